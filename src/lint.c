/*
 * lint.c — modelflags-lint: checks definitions files without a database.
 *
 *   modelflags-lint [--external-refs] [--verbose] FILE...
 *
 * Reads each FILE ("-" is standard input) with the same parser as
 * modelflags.load_definitions (src/def_*.c), so a file it accepts
 * loads, barring references to rows only the database holds.  Made for the
 * CI of a repository that keeps definitions in git.
 *
 * Beyond what load_definitions checks in one document, it checks the file
 * set as a whole:
 *   - every provider a model names, and every model and flag a route names
 *     (unit_primitives.yml default models included), must be defined by one
 *     of the files; --external-refs turns this off for file sets that rely
 *     on definitions kept elsewhere (the database);
 *   - a GitLab feature-flag file must be named after its flag and sit in a
 *     directory named after its type (config/feature_flags/<type>/<name>.yml),
 *     as GitLab's Feature::Definition requires.
 * A name may be defined by several files (they load one after the other);
 * within one file it is an error.
 *
 * Messages are "file:line:column: error: path: message", each followed by a
 * "note:" line when there is a hint.  Exit status: 0 when every file is
 * valid, 1 when any is not, 2 for a usage error.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions.h"

typedef struct LintFile
{
	const char *name;
	DefDocument *doc;
	bool		unreadable;
} LintFile;

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: modelflags-lint [--external-refs] [--verbose] FILE...\n"
			"Checks modelflags definitions (our YAML/JSON format, GitLab feature-flag\n"
			"definitions, the AI gateway's models.yml and unit_primitives.yml) without a\n"
			"database.  FILE - reads standard input.\n"
			"\n"
			"  --external-refs  allow references to providers, models and flags that no\n"
			"                   given file defines (they must exist in the database)\n"
			"  --verbose, -v    also report each valid file\n"
			"  --help, -h       show this help\n"
			"\n"
			"Exit status: 0 all valid, 1 errors found, 2 usage error.\n");
}

/*
 * Reads a whole file into a malloc'd buffer.  A file bigger than the
 * document limit is not read: *too_big gets its size.  From a pipe, reading
 * stops soon after the limit (def_parse then refuses the document).
 */
static char *
read_file(const char *path, size_t *len, long long *too_big)
{
	FILE	   *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t		cap = 65536,
				n = 0;
	char	   *buf;
	struct stat st;

	*too_big = 0;
	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > DEF_MAX_DOCUMENT_BYTES)
	{
		*too_big = (long long) st.st_size;
		if (f != stdin)
			fclose(f);
		return NULL;
	}
	buf = malloc(cap);
	while (buf)
	{
		size_t		want = cap - n;
		size_t		got;

		if (n > (size_t) DEF_MAX_DOCUMENT_BYTES)
			break;
		got = fread(buf + n, 1, want, f);
		n += got;
		if (got < want)
			break;
		if (cap > (size_t) DEF_MAX_DOCUMENT_BYTES)
			break;
		cap *= 2;
		{
			char	   *b2 = realloc(buf, cap);

			if (b2 == NULL)
			{
				free(buf);
				buf = NULL;
			}
			else
				buf = b2;
		}
	}
	if (buf && ferror(f))
	{
		free(buf);
		buf = NULL;
	}
	if (f != stdin)
		fclose(f);
	if (buf && n > (size_t) DEF_MAX_DOCUMENT_BYTES)
	{
		free(buf);
		*too_big = -1;			/* size unknown: more than the limit */
		return NULL;
	}
	*len = n;
	return buf;
}

static const char *
basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* GitLab's rule: config/feature_flags/<type>/<name>.yml */
static void
check_gitlab_flag_path(LintFile *lf)
{
	DefDocument *doc = lf->doc;
	const DefFlag *f;
	const char *base;
	size_t		blen;
	char		expect[300];

	if (doc->format != DEF_FORMAT_GITLAB_FLAG || doc->nflags != 1 || strcmp(lf->name, "-") == 0)
		return;
	f = &doc->flags[0];
	if (f->name == NULL)
		return;
	base = basename_of(lf->name);
	blen = strlen(base);
	snprintf(expect, sizeof(expect), "%s.yml", f->name);
	if (strcmp(base, expect) != 0)
	{
		DefSite		site = {f->site.line, f->site.column, "name"};
		char		hint[256];

		snprintf(hint, sizeof(hint),
				 "GitLab requires config/feature_flags/<type>/<name>.yml: name it %.180s.", expect);
		if (!def_error(doc, DEF_ERR_VALUE, &site, hint,
					   "flag \"%.200s\" is defined in a file named \"%.*s\"",
					   f->name, (int) (blen > 200 ? 200 : blen), base))
			return;
	}
	if (f->type)
	{
		const char *dir_end = base;
		const char *dir = dir_end;

		if (dir_end > lf->name)
		{
			dir_end--;			/* the slash */
			dir = dir_end;
			while (dir > lf->name && dir[-1] != '/')
				dir--;
			if ((size_t) (dir_end - dir) != strlen(f->type) ||
				strncmp(dir, f->type, dir_end - dir) != 0)
			{
				DefSite		site = {f->site.line, f->site.column, "type"};

				def_error(doc, DEF_ERR_VALUE, &site,
						  "GitLab requires config/feature_flags/<type>/<name>.yml.",
						  "flag \"%.200s\" of type \"%.40s\" is not in a directory named \"%.40s\"",
						  f->name, f->type, f->type);
			}
		}
	}
}

static int
error_cmp(const void *a, const void *b)
{
	const DefError *x = a,
			   *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return 0;
}

/* Prints a file's errors in document order; returns how many. */
static int
report(const LintFile *lf)
{
	DefDocument *doc = lf->doc;

	/* by position; insertion sort keeps equal positions in their order */
	for (int i = 1; i < doc->nerrors; i++)
	{
		DefError	e = doc->errors[i];
		int			j = i - 1;

		while (j >= 0 && error_cmp(&doc->errors[j], &e) > 0)
		{
			doc->errors[j + 1] = doc->errors[j];
			j--;
		}
		doc->errors[j + 1] = e;
	}
	for (int i = 0; i < doc->nerrors; i++)
	{
		const DefError *e = &doc->errors[i];
		char		where[64] = "";

		if (e->line > 0)
			snprintf(where, sizeof(where), "%d:%d:", e->line, e->column);
		printf("%s:%s error: %s%s%s\n", lf->name, where, e->path, e->path[0] ? ": " : "", e->message);
		if (e->hint[0])
			printf("%s:%s note: %s\n", lf->name, where, e->hint);
	}
	if (doc->nerrors >= DEF_MAX_ERRORS)
		printf("%s: note: stopped after %d errors\n", lf->name, DEF_MAX_ERRORS);
	return doc->nerrors;
}

int
main(int argc, char **argv)
{
	bool		external = false;
	bool		verbose = false;
	bool		options_done = false;
	LintFile   *files;
	DefDocument **docs;
	int			nfiles = 0;
	int			errors = 0,
				bad_files = 0;

	files = calloc(argc > 1 ? argc : 1, sizeof(LintFile));
	docs = calloc(argc > 1 ? argc : 1, sizeof(DefDocument *));
	if (files == NULL || docs == NULL)
	{
		fprintf(stderr, "modelflags-lint: out of memory\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (!options_done && strcmp(a, "--") == 0)
			options_done = true;
		else if (!options_done && strcmp(a, "--external-refs") == 0)
			external = true;
		else if (!options_done && (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0))
			verbose = true;
		else if (!options_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0))
		{
			usage(stdout);
			return 0;
		}
		else if (!options_done && a[0] == '-' && a[1] != '\0')
		{
			fprintf(stderr, "modelflags-lint: unknown option \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
		else
			files[nfiles++].name = a;
	}
	if (nfiles == 0)
	{
		fprintf(stderr, "modelflags-lint: no files given\n");
		usage(stderr);
		return 2;
	}

	for (int i = 0; i < nfiles; i++)
	{
		size_t		len = 0;
		long long	too_big = 0;
		char	   *text;

		errno = 0;
		text = read_file(files[i].name, &len, &too_big);
		if (too_big)
		{
			if (too_big > 0)
				printf("%s: error: definitions document is too large (%lld bytes)\n", files[i].name, too_big);
			else
				printf("%s: error: definitions document is too large (more than %d bytes)\n",
					   files[i].name, DEF_MAX_DOCUMENT_BYTES);
			printf("%s: note: The limit is %d bytes (8 MiB).\n", files[i].name, DEF_MAX_DOCUMENT_BYTES);
			files[i].unreadable = true;
			errors++;
			bad_files++;
			files[i].doc = def_new_document();
		}
		else if (text == NULL)
		{
			printf("%s: error: cannot read file: %s\n", files[i].name, strerror(errno ? errno : EIO));
			files[i].unreadable = true;
			errors++;
			bad_files++;
			files[i].doc = def_new_document();
		}
		else
		{
			files[i].doc = def_parse(text, len);
			free(text);
		}
		if (files[i].doc == NULL)
		{
			fprintf(stderr, "modelflags-lint: out of memory\n");
			return 2;
		}
		if (!files[i].unreadable)
			check_gitlab_flag_path(&files[i]);
		docs[i] = files[i].doc;
	}
	if (!external)
		def_check_references(docs, nfiles);

	for (int i = 0; i < nfiles; i++)
	{
		int			n;

		if (files[i].unreadable)
			continue;
		n = report(&files[i]);
		errors += n;
		if (n)
			bad_files++;
		else if (verbose)
		{
			DefDocument *d = files[i].doc;

			printf("%s: ok (%s: %d providers, %d models, %d flags, %d features)\n",
				   files[i].name, def_format_name(d->format), d->nproviders, d->nmodels,
				   d->nflags, d->nfeatures);
		}
	}
	for (int i = 0; i < nfiles; i++)
		def_free(files[i].doc);
	free(files);
	free(docs);
	if (errors)
	{
		fprintf(stderr, "modelflags-lint: %d error%s in %d file%s\n", errors, errors == 1 ? "" : "s",
				bad_files, bad_files == 1 ? "" : "s");
		return 1;
	}
	return 0;
}
