/*
 * unit_definitions.c — unit tests of the definitions parser and writer
 * (src/def_*.c), run under AddressSanitizer, UndefinedBehaviorSanitizer
 * and LeakSanitizer by test/stages/10_unit_definitions.sh.
 *
 * Prints "PASS: definitions <name>" or "FAIL: definitions <name>: why" per
 * test; exits 1 if any failed.  Run from the repository root (it reads
 * examples/).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "definitions.h"

static int failures = 0;
static char why[2048];

static bool
check(bool ok, const char *fmt,...)
{
	if (!ok && why[0] == '\0')
	{
		va_list		ap;

		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	return ok;
}

static void
report(const char *name)
{
	if (why[0])
	{
		printf("FAIL: definitions %s: %s\n", name, why);
		failures++;
	}
	else
		printf("PASS: definitions %s\n", name);
	why[0] = '\0';
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n + 1);
	if (fread(buf, 1, n, f) != (size_t) n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	*len = n;
	return buf;
}

static DefDocument *
parse(const char *text)
{
	return def_parse(text, strlen(text));
}

static const char *
first_error(const DefDocument *d)
{
	static char buf[1024];

	if (d->nerrors == 0)
		return "(no error)";
	def_format_error(&d->errors[0], buf, sizeof(buf));
	return buf;
}

/*
 * A document that must be refused: kind of the first error, its line and
 * column (0 = any), a path (NULL = any) and a substring of the message.
 */
static void
expect_error(const char *name, const char *text, size_t len, DefErrorKind kind,
			 int line, int column, const char *path, const char *message)
{
	DefDocument *d = def_parse(text, len);

	if (check(d != NULL, "no document") &&
		check(d->nerrors > 0, "accepted") &&
		check(d->errors[0].kind == kind, "kind %d, want %d: %s", d->errors[0].kind, kind, first_error(d)) &&
		check(line == 0 || d->errors[0].line == line, "line %d, want %d: %s", d->errors[0].line, line, first_error(d)) &&
		check(column == 0 || d->errors[0].column == column, "column %d, want %d: %s", d->errors[0].column, column, first_error(d)) &&
		check(path == NULL || strcmp(d->errors[0].path, path) == 0, "path \"%s\", want \"%s\"", d->errors[0].path, path) &&
		check(message == NULL || strstr(d->errors[0].message, message) != NULL, "message \"%s\", want \"%s\"", d->errors[0].message, message))
	{
		/* all checks passed */
	}
	def_free(d);
	report(name);
}

static void
expect_error_s(const char *name, const char *text, DefErrorKind kind, int line, int column,
			   const char *path, const char *message)
{
	expect_error(name, text, strlen(text), kind, line, column, path, message);
}

/*
 * Serializes, parses back and serializes again: must be identical, and the
 * nodes the writer says it wrote must be those the parser counts (the
 * number dump_definitions holds to DEF_MAX_NODES).
 */
static bool
round_trips(const DefDocument *d, DefOutput out)
{
	DefWritten	w;
	size_t		l1,
				l2;
	char	   *s1 = def_serialize_bounded(d, out, true, 0, &w);
	DefDocument *d2;
	char	   *s2;
	bool		ok;

	l1 = w.len;
	d2 = def_parse(s1, l1);
	if (out == DEF_OUTPUT_YAML && w.flow_work > DEF_MAX_YAML_FLOW_WORK)
	{
		/* too deep for YAML (dump_definitions says so): refused, not misread */
		ok = check(d2->nerrors == 1 && d2->errors[0].kind == DEF_ERR_LIMIT &&
				   strstr(d2->errors[0].message, "flow collections nest too deeply") != NULL,
				   "YAML with flow work %llu: %s", (unsigned long long) w.flow_work, first_error(d2));
		free(s1);
		def_free(d2);
		return ok;
	}
	if (out == DEF_OUTPUT_JSON && w.depth > DEF_MAX_JSON_DEPTH)
	{
		/* too deep for cJSON (dump_definitions says so): refused, not misread */
		ok = check(d2->nerrors == 1 && d2->errors[0].kind == DEF_ERR_LIMIT &&
				   strstr(d2->errors[0].message, "JSON document nests more than 1000 levels") != NULL,
				   "JSON %u levels deep: %s", w.depth, first_error(d2));
		free(s1);
		def_free(d2);
		return ok;
	}
	s2 = d2->nerrors ? NULL : def_serialize(d2, out, true, &l2);
	ok = check(d2->nerrors == 0, "output does not parse: %s\n%.2000s", first_error(d2), s1) &&
		check(s2 && l1 == l2 && memcmp(s1, s2, l1) == 0, "round trip differs:\n%.2000s\n---\n%.2000s", s1, s2 ? s2 : "") &&
		check(w.nodes == d2->nodes, "the writer counts %llu nodes, the parser %u",
			  (unsigned long long) w.nodes, d2->nodes) &&
		check(out == DEF_OUTPUT_JSON || w.flow_work == d2->flow_work,
			  "the writer counts flow work %llu, the parser %llu",
			  (unsigned long long) w.flow_work, (unsigned long long) d2->flow_work);

	free(s1);
	free(s2);
	def_free(d2);
	return ok;
}

static const DefModel *
model(const DefDocument *d, const char *name)
{
	int			i = def_find(d, DEF_TABLE_MODELS, name);

	return i >= 0 ? &d->models[i] : NULL;
}

/* JSON text of a params node, via the rows writer. */
static bool
params_are(const DefNode *n, const char *want)
{
	DefDocument *d = def_new_document();
	DefModel   *m = def_add_model(d, "x");
	char	   *rows;
	bool		ok;

	m->params = (DefNode *) n;
	m->present = DEF_MODEL_PARAMS;
	rows = def_rows_json(d, DEF_TABLE_MODELS, DEF_MODEL_PARAMS);
	ok = check(rows && strstr(rows, want) != NULL, "params %s, want %s", rows ? rows : "null", want);
	free(rows);
	def_free(d);
	return ok;
}

static void
test_example(void)
{
	size_t		len;
	char	   *text = slurp("examples/gitlab-duo.yml", &len);
	DefDocument *d;
	const DefFeature *f;

	if (!check(text != NULL, "cannot read examples/gitlab-duo.yml"))
	{
		report("example gitlab-duo.yml");
		return;
	}
	d = def_parse(text, len);
	if (check(d->nerrors == 0, "%s", first_error(d)) &&
		check(d->format == DEF_FORMAT_MODELFLAGS, "format") &&
		check(d->nproviders == 3 && d->nmodels == 5 && d->nflags == 4 && d->nfeatures == 2, "counts") &&
		check(def_find(d, DEF_TABLE_FEATURES, "code_completions") == 1, "find feature"))
	{
		f = &d->features[1];
		check(f->nroutes == 3, "routes");
		check(f->routes[0].position == 1 && strcmp(f->routes[0].flag, "incident_fail_over_completion_provider") == 0, "route 1");
		check(f->routes[2].position == 3 && f->routes[2].flag == NULL, "default route");
		check(params_are(f->routes[0].params, "\"direct_access\": false"), "route params");
		check(params_are(model(d, "claude_sonnet_4_5_20250929")->params, "\"max_tokens\": 64000"), "64_000");
		check(strcmp(d->flags[2].percentage_of_actors, "25") == 0, "percentage");
		check(strcmp(d->flags[0].milestone, "17.8") == 0, "milestone");
		check(d->providers[0].present == DEF_PROVIDER_NOTE, "provider present bits");
		round_trips(d, DEF_OUTPUT_YAML);
		round_trips(d, DEF_OUTPUT_JSON);
	}
	report("example gitlab-duo.yml round-trips as YAML and JSON");

	/* the JSON dump of the example reads back to the same YAML dump */
	{
		size_t		jl,
					y1,
					y2;
		char	   *json = def_serialize(d, DEF_OUTPUT_JSON, true, &jl);
		DefDocument *dj = def_parse(json, jl);
		char	   *a = def_serialize(d, DEF_OUTPUT_YAML, true, &y1);
		char	   *b = dj->nerrors ? NULL : def_serialize(dj, DEF_OUTPUT_YAML, true, &y2);

		check(dj->nerrors == 0, "%s", first_error(dj));
		check(b && y1 == y2 && memcmp(a, b, y1) == 0, "JSON and YAML differ");
		free(json);
		free(a);
		free(b);
		def_free(dj);
		report("JSON dump reads back like the YAML dump");
	}

	/* state = false leaves out gates and availability */
	{
		char	   *s = def_serialize(d, DEF_OUTPUT_YAML, false, NULL);

		check(strstr(s, "percentage_of_actors") == NULL, "state written");
		check(strstr(s, "milestone: \"17.8\"") != NULL, "metadata missing");
		free(s);
		report("dump without state");
	}
	def_free(d);
	free(text);
}

static void
test_gitlab_files(void)
{
	size_t		len;
	char	   *text;
	DefDocument *d;

	text = slurp("examples/gitlab/config/feature_flags/ops/incident_fail_over_completion_provider.yml", &len);
	d = def_parse(text, len);
	if (check(d->nerrors == 0, "%s", first_error(d)) &&
		check(d->format == DEF_FORMAT_GITLAB_FLAG, "format %d", d->format) &&
		check(d->nflags == 1, "flags"))
	{
		const DefFlag *f = &d->flags[0];

		check(strcmp(f->name, "incident_fail_over_completion_provider") == 0, "name");
		check(strcmp(f->type, "ops") == 0 && strcmp(f->group, "group::ai coding") == 0, "type/group");
		check(strcmp(f->milestone, "17.6") == 0, "milestone");
		check((f->present & DEF_FLAG_ROLLOUT_ISSUE_URL) && f->rollout_issue_url == NULL, "null url");
		check(!(f->present & (DEF_FLAG_ENABLED | DEF_FLAG_PERCENTAGE_OF_ACTORS | DEF_FLAG_ACTORS)), "gates touched");
		check(f->default_enabled == false && (f->present & DEF_FLAG_DEFAULT_ENABLED), "default_enabled");
		round_trips(d, DEF_OUTPUT_YAML);
	}
	report("GitLab feature-flag definition");
	def_free(d);
	free(text);

	/* keys GitLab has but we do not map are ignored */
	d = parse("---\nname: beta_thing\ntype: beta\ndefault_enabled: true\nintended_to_rollout_by: '2025-01-01'\nfuture_key: [1]\n");
	check(d->nerrors == 0 && d->format == DEF_FORMAT_GITLAB_FLAG && d->flags[0].default_enabled, "%s", first_error(d));
	report("GitLab flag: unmapped keys ignored");
	def_free(d);

	text = slurp("examples/gitlab/ai_gateway/model_selection/models.yml", &len);
	d = def_parse(text, len);
	if (check(d->nerrors == 0, "%s", first_error(d)) &&
		check(d->format == DEF_FORMAT_GITLAB_MODELS, "format") &&
		check(d->nmodels == 7, "models %d", d->nmodels))
	{
		check(strcmp(model(d, "claude_sonnet_4_5_20250929")->provider, "anthropic") == 0, "proxy_provider rule");
		check(strcmp(model(d, "claude_sonnet_4_6_vertex")->provider, "vertex_ai") == 0, "custom_llm_provider rule");
		check(strcmp(model(d, "codestral_2508_fireworks")->provider, "fireworks_ai") == 0, "fireworks");
		check(strcmp(model(d, "gemini_2_5_flash_vertex")->provider, "vertex_ai") == 0, "suffix rule");
		check(strcmp(model(d, "mistral")->provider, "litellm") == 0, "model_class_provider rule");
		check(strcmp(model(d, "claude_sonnet_4_6_vertex")->provider_site.path,
					 "models[2].params.custom_llm_provider") == 0, "provider site %s",
			  model(d, "claude_sonnet_4_6_vertex")->provider_site.path);
		check(params_are(model(d, "claude_sonnet_4_6_vertex")->params, "\"max_tokens\": 64000"), "64_000");
		check(params_are(model(d, "codestral_2501_fireworks")->params, "\"fim_format\": \"</s>[SUFFIX]{suffix}[PREFIX]{prefix}[MIDDLE]\""), "fim");
		check(d->nproviders == 4 && d->providers[0].derived, "derived providers %d", d->nproviders);
		check(strcmp(model(d, "claude_sonnet_4_5_20250929")->description,
					 "Anthropic's flagship model for real-world coding, reasoning, and agentic workflows.") == 0, "description");
		round_trips(d, DEF_OUTPUT_YAML);
	}
	report("GitLab models.yml (params, YAML 1.1 64_000, provider rule)");
	def_free(d);
	free(text);

	/* each step of the provider rule */
	d = parse("models:\n"
			  "  - {gitlab_identifier: a, params: {model: 'vertex_ai/gemini-1.5-flash'}}\n"
			  "  - {gitlab_identifier: b_bedrock, provider: Whatever}\n"
			  "  - {gitlab_identifier: c, provider: Gemini Enterprise Agent Platform}\n"
			  "  - {gitlab_identifier: d, params: {model: x, model_class_provider: amazon_q}}\n"
			  "  - {gitlab_identifier: e, proxy_provider: OpenAI, params: {custom_llm_provider: Fireworks_AI}}\n");
	if (check(d->nerrors == 0, "%s", first_error(d)))
	{
		check(strcmp(model(d, "a")->provider, "vertex_ai") == 0, "LiteLLM prefix: %s", model(d, "a")->provider);
		check(strcmp(model(d, "b_bedrock")->provider, "bedrock") == 0, "suffix");
		check(strcmp(model(d, "c")->provider, "gemini_enterprise_agent_platform") == 0, "slug");
		check(strcmp(model(d, "d")->provider, "amazon_q") == 0, "params.model_class_provider");
		check(strcmp(model(d, "e")->provider, "fireworks_ai") == 0, "custom first, slugged");
	}
	report("models.yml provider rule, step by step");
	def_free(d);

	expect_error_s("models.yml entry without a provider",
				   "models:\n  - gitlab_identifier: lonely\n    params: {model: x}\n",
				   DEF_ERR_VALUE, 2, 5, "models[0]", "cannot tell the provider of model \"lonely\"");

	text = slurp("examples/gitlab/ai_gateway/model_selection/unit_primitives.yml", &len);
	d = def_parse(text, len);
	if (check(d->nerrors == 0, "%s", first_error(d)) &&
		check(d->format == DEF_FORMAT_GITLAB_UNIT_PRIMITIVES, "format") &&
		check(d->nfeatures == 2, "features"))
	{
		const DefFeature *f = &d->features[1];

		check(strcmp(f->name, "code_completions") == 0, "name");
		check(f->routes_mode == DEF_ROUTES_UNFLAGGED, "mode");
		check(f->nroutes == 2 && f->routes[0].position == 0 && f->routes[1].position == 1, "positions");
		check(strcmp(f->routes[1].model, "codestral_2501_fireworks") == 0, "fallback order");
		check(f->routes[0].flag == NULL, "no flag");
	}
	report("GitLab unit_primitives.yml (default_models in order)");
	def_free(d);
	free(text);

	d = parse("configurable_unit_primitives:\n  - feature_setting: duo_chat\n    default_model: claude_sonnet_4_20250514_vertex\n");
	check(d->nerrors == 0 && d->nfeatures == 1 && d->features[0].nroutes == 1 &&
		  strcmp(d->features[0].routes[0].model, "claude_sonnet_4_20250514_vertex") == 0, "%s", first_error(d));
	report("unit_primitives.yml older default_model");
	def_free(d);

	expect_error_s("unit_primitives.yml empty default_models",
				   "configurable_unit_primitives:\n  - feature_setting: x\n    default_models: []\n",
				   DEF_ERR_VALUE, 3, 21, "configurable_unit_primitives[0].default_models", "at least one model");
}

static void
test_yaml_scalars(void)
{
	DefDocument *d = parse("models:\n"
						   "  - name: m\n"
						   "    provider: p\n"
						   "    params:\n"
						   "      a: 64_000\n"
						   "      b: 0x1F\n"
						   "      c: 017\n"
						   "      d: 0b101\n"
						   "      e: 1.5e+3\n"
						   "      f: .5\n"
						   "      g: 1.\n"
						   "      h: yes\n"
						   "      i: Off\n"
						   "      j: ~\n"
						   "      k: 1e5\n"
						   "      l: '42'\n"
						   "      m: !!str 42\n"
						   "      n: !!float 3\n"
						   "      o: 2025-10-28\n"
						   "      p: -0\n"
						   "      q: +12\n"
						   "      r: 08\n"
						   "      s: \"\\u00e9\\t\"\n"
						   "      t: [1, two, {three: 3}]\n");

	if (check(d->nerrors == 0, "%s", first_error(d)))
		params_are(d->models[0].params,
				   "{\"a\": 64000,\"b\": 31,\"c\": 15,\"d\": 5,\"e\": 1.5e+3,\"f\": 0.5,\"g\": 1.0,"
				   "\"h\": true,\"i\": false,\"j\": null,\"k\": \"1e5\",\"l\": \"42\",\"m\": \"42\","
				   "\"n\": 3.0,\"o\": \"2025-10-28\",\"p\": -0,\"q\": 12,\"r\": \"08\","
				   "\"s\": \"\xc3\xa9\\t\",\"t\": [1,\"two\",{\"three\": 3}]}");
	report("YAML 1.1 scalars (as PyYAML reads them) to JSON");
	if (d->nerrors == 0)
		round_trips(d, DEF_OUTPUT_YAML);
	report("YAML scalars round-trip");
	def_free(d);

	d = parse("models: [{name: m, provider: p, params: {x: 1e5, y: 1.0e+5}}]\n");
	check(d->nerrors == 0, "%s", first_error(d));
	report("1e5 is a string in YAML 1.1, 1.0e+5 a number");
	def_free(d);

	d = parse("{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"x\": 1e5, \"y\": -0, \"z\": 1.50E+2}}]}");
	if (check(d->nerrors == 0, "%s", first_error(d)))
	{
		params_are(d->models[0].params, "{\"x\": 1e5,\"y\": -0,\"z\": 1.50e+2}");
		round_trips(d, DEF_OUTPUT_YAML);
	}
	report("JSON numbers normalised; 1e5 stays a number through YAML");
	def_free(d);

	/* JSON numbers as RFC 8259 (and PostgreSQL's jsonb) write them */
	expect_error_s("JSON number with a leading zero refused", "{\"a\": [1, 01]}", DEF_ERR_SYNTAX, 1, 11, "",
				   "invalid JSON number \"01\"");
	expect_error_s("JSON number without digits after the point refused", "{\"a\": 1.}", DEF_ERR_SYNTAX, 1, 7, "",
				   "invalid JSON number \"1.\"");
	expect_error_s("JSON number without an integer part refused", "{\"a\": -.5}", DEF_ERR_SYNTAX, 1, 7, "",
				   "invalid JSON number \"-.5\"");
	expect_error_s("JSON number with a plus sign refused", "{\"a\": +1}", DEF_ERR_SYNTAX, 1, 7, "",
				   "unexpected \"+\"");
	expect_error_s("JSON exponent without digits refused", "{\"a\": 1e+}", DEF_ERR_SYNTAX, 1, 7, "",
				   "invalid JSON number \"1e+\"");

	/* numbers of any length, kept exactly (jsonb keeps numerics exactly) */
	{
		char		num[400],
					doc[1024];

		memset(num, '7', 300);
		memcpy(num + 300, ".25e-70", 8);
		snprintf(doc, sizeof(doc), "{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"x\": %s}}]}", num);
		d = parse(doc);
		if (check(d->nerrors == 0, "JSON: %s", first_error(d)) &&
			check(strcmp(d->models[0].params->items[0]->text, num) == 0, "JSON number %s", d->models[0].params->items[0]->text))
		{
			round_trips(d, DEF_OUTPUT_YAML);
			round_trips(d, DEF_OUTPUT_JSON);
		}
		def_free(d);
		num[300] = '\0';
		snprintf(doc, sizeof(doc), "models: [{name: m, provider: p, params: {x: %s, y: -%s.5}}]\n", num, num);
		d = parse(doc);
		if (check(d->nerrors == 0, "YAML: %s", first_error(d)) &&
			check(strcmp(d->models[0].params->items[0]->text, num) == 0, "YAML number %s", d->models[0].params->items[0]->text) &&
			check(d->models[0].params->items[1]->len == 303, "YAML number %s", d->models[0].params->items[1]->text))
		{
			round_trips(d, DEF_OUTPUT_YAML);
			round_trips(d, DEF_OUTPUT_JSON);
		}
		def_free(d);
		report("numbers of 300 digits read exactly, in YAML and JSON");
	}
	d = parse("{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"x\": 10000000000000000000000000000000000000000000000000000000000000000000000}}]}");
	check(d->nerrors == 0, "%s", first_error(d));
	report("1e70 as numeric_out writes it (71 characters) read");
	def_free(d);

	expect_error_s("YAML .inf refused", "models: [{name: m, provider: p, params: {x: .inf}}]\n",
				   DEF_ERR_UNSUPPORTED, 1, 45, NULL, ".inf");
	expect_error_s("YAML sexagesimal refused", "a: 1:30\n", DEF_ERR_UNSUPPORTED, 1, 4, NULL, "sexagesimal");
	expect_error_s("YAML merge key refused", "a: &x {b: 1}\nc:\n  <<: *x\n", DEF_ERR_UNSUPPORTED, 3, 3, NULL, "merge keys");
	expect_error_s("YAML custom tag refused", "a: !ruby/object:Foo {}\n", DEF_ERR_UNSUPPORTED, 1, 4, NULL, "!ruby/object:Foo");
	expect_error_s("YAML complex key refused", "? [a, b]\n: c\n", DEF_ERR_UNSUPPORTED, 1, 3, NULL, "mapping keys");
	expect_error_s("YAML bad !!int", "a: !!int abc\n", DEF_ERR_VALUE, 1, 4, NULL, "invalid !!int value \"abc\"");
	expect_error_s("YAML huge hex integer", "a: 0xFFFFFFFFFFFFFFFFFF\n", DEF_ERR_VALUE, 1, 4, NULL, "does not fit in 64 bits");
	expect_error_s("YAML two documents", "a: 1\n---\nb: 2\n", DEF_ERR_UNSUPPORTED, 2, 1, NULL, "more than one YAML document");
	expect_error_s("YAML unknown alias", "a: *nope\n", DEF_ERR_SYNTAX, 1, 4, NULL, "unknown YAML anchor \"nope\"");
	expect_error_s("YAML recursive alias", "a: &r [*r]\n", DEF_ERR_SYNTAX, 1, 8, NULL, "unknown YAML anchor");
}

static void
test_syntax_and_positions(void)
{
	expect_error_s("YAML syntax error with position", "providers:\n  - name: a\n   bad: [\n",
				   DEF_ERR_SYNTAX, 0, 0, NULL, "invalid YAML");
	expect_error_s("YAML tab indentation", "providers:\n\t- name: a\n", DEF_ERR_SYNTAX, 2, 1, NULL, "invalid YAML");
	expect_error_s("JSON syntax error with position", "{\"providers\": [\n  {\"name\": \"a\",}\n]}",
				   DEF_ERR_SYNTAX, 2, 16, "", "invalid JSON: unexpected \"}\"");
	expect_error_s("JSON truncated", "{\"providers\": [", DEF_ERR_SYNTAX, 1, 16, "", "unexpected end");
	expect_error_s("JSON trailing comma", "{\"a\": 1,}", DEF_ERR_SYNTAX, 1, 9, "", "unexpected \"}\"");
	expect_error_s("JSON missing comma", "[1 2]", DEF_ERR_SYNTAX, 1, 4, "", "unexpected \"2\"");
	expect_error_s("JSON trailing garbage", "{\"providers\": []} x", DEF_ERR_SYNTAX, 1, 19, "", "invalid JSON");
	expect_error_s("JSON raw control character", "{\"a\": \"x\001\"}", DEF_ERR_SYNTAX, 1, 9, "", "control character");
	expect_error_s("JSON \\u0000", "{\"a\": \"x\\u0000\"}", DEF_ERR_ENCODING, 1, 9, "", "\\u0000");
	expect_error_s("JSON lone surrogate", "{\"a\": \"\\ud800\"}", DEF_ERR_SYNTAX, 0, 0, "", "invalid JSON");
	/* what cJSON lets through, refused by the pre-scan as RFC 8259 says */
	expect_error_s("JSON \\u with bad hex digits (cJSON reads NUL)", "{\"a\": \"x\\uZZZZ\"}", DEF_ERR_SYNTAX, 1, 9, "",
				   "invalid JSON: invalid escape \"\\\\uZZZZ\"");
	expect_error_s("JSON unknown escape", "{\"a\": \"\\x\"}", DEF_ERR_SYNTAX, 1, 8, "", "invalid JSON: invalid escape");
	expect_error_s("JSON low surrogate alone", "{\"a\": \"\\udc00\"}", DEF_ERR_SYNTAX, 1, 8, "",
				   "invalid JSON: unpaired UTF-16 surrogate");
	expect_error_s("JSON form feed outside a string", "{\"a\":\f1}", DEF_ERR_SYNTAX, 1, 6, "",
				   "control character outside a string");
	/* errors in document order: cJSON's syntax error or the pre-scan's */
	expect_error_s("JSON syntax error before a bad number", "[1,, 01]", DEF_ERR_SYNTAX, 1, 4, "", "unexpected \",\"");
	expect_error_s("JSON bad number before a syntax error", "[01,,]", DEF_ERR_SYNTAX, 1, 2, "", "invalid JSON number \"01\"");
	{
		/* numbers longer than cJSON reads: positions after them stay right */
		char		num[101],
					doc[512];

		memset(num, '9', 100);
		num[100] = '\0';
		snprintf(doc, sizeof(doc), "[%s, -%s.5e-1 x]", num, num);
		expect_error_s("JSON syntax error after long numbers", doc, DEF_ERR_SYNTAX, 1, 211, "", "unexpected \"x\"");
		snprintf(doc, sizeof(doc), "{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"x\": %s}, \"enabled\": \"yes\"}]}", num);
		expect_error_s("JSON value position after a long number", doc, DEF_ERR_VALUE, 1, 174, "models[0].enabled",
					   "must be true or false");
		num[0] = '0';
		snprintf(doc, sizeof(doc), "[1, %s]", num);
		expect_error_s("JSON long number with a leading zero refused", doc, DEF_ERR_SYNTAX, 1, 5, "", "invalid JSON number \"0999");
	}
	expect_error_s("JSON value positions",
				   "{\n  \"features\": [\n    {\"name\": \"f\", \"routes\": [{\"model\": \"Bad Model\"}]}\n  ]\n}",
				   DEF_ERR_VALUE, 3, 40, "features[0].routes[0].model", "invalid model name \"Bad Model\"");
	expect_error_s("YAML value positions",
				   "features:\n  - name: f\n  - name: g\n  - name: h\n    routes:\n      - model: Bad Model\n",
				   DEF_ERR_VALUE, 6, 16, "features[2].routes[0].model", "invalid model name \"Bad Model\"");
	expect_error_s("column counts characters, not bytes",
				   "providers:\n  - {note: \"\xc3\xa9\xc3\xa9\", name: 7}\n",
				   DEF_ERR_VALUE, 2, 24, "providers[0].name", "must be a string");
	expect_error_s("empty document", "", DEF_ERR_VALUE, 0, 0, "", "empty");
	expect_error_s("comment-only document", "# nothing\n", DEF_ERR_VALUE, 0, 0, "", "empty");
	expect_error_s("top level a list", "- a\n", DEF_ERR_VALUE, 1, 1, "", "must be a mapping, not a list");
	expect_error_s("top level a scalar", "hello\n", DEF_ERR_VALUE, 1, 1, "", "must be a mapping, not the string \"hello\"");
}

/* A params value nested depth levels deep, read from JSON, YAML flow and YAML block. */
static void
test_deep(size_t depth)
{
	size_t		cap = 4 * depth + 256;
	char	   *doc = malloc(cap);
	char		name[96];
	size_t		len;
	const char *forms[] = {"JSON", "YAML flow", "YAML block"};

	for (int form = 0; form < 3; form++)
	{
		DefDocument *d;

		if (form == 0)
			len = snprintf(doc, cap, "{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"x\": ");
		else if (form == 1)
			len = snprintf(doc, cap, "models: [{name: m, provider: p, params: {x: ");
		else
			len = snprintf(doc, cap, "models:\n  - name: m\n    provider: p\n    params:\n      x:\n        ");
		for (size_t i = 0; i < depth; i++)
		{
			memcpy(doc + len, form == 2 ? "- " : "[", form == 2 ? 2 : 1);
			len += form == 2 ? 2 : 1;
		}
		doc[len++] = '1';
		if (form < 2)
		{
			memset(doc + len, ']', depth);
			len += depth;
		}
		len += snprintf(doc + len, cap - len, "%s", form == 0 ? "}}]}" : form == 1 ? "}}]\n" : "\n");
		d = def_parse(doc, len);
		if (form == 0 && depth + 4 > DEF_MAX_JSON_DEPTH)
		{
			/*
			 * cJSON reads 1000 levels: the document, "models", the model and
			 * params are 4 of them.  Refused at the 1001st bracket.
			 */
			int			column = (int) strlen("{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"x\": ")
				+ DEF_MAX_JSON_DEPTH - 4 + 1;

			check(d->nerrors == 1 && d->errors[0].kind == DEF_ERR_LIMIT &&
				  d->errors[0].line == 1 && d->errors[0].column == column &&
				  strstr(d->errors[0].message, "JSON document nests more than 1000 levels") &&
				  strstr(d->errors[0].hint, "YAML takes deeper documents"),
				  "JSON: %s (want column %d)", first_error(d), column);
			def_free(d);
			snprintf(name, sizeof(name), "%zu-deep params in JSON refused (cJSON reads 1000 levels)", depth);
			report(name);
			continue;
		}
		if (form == 1 && depth > 20000)
		{
			/* libyaml's time grows with flow nesting: refused, in about a second */
			check(d->nerrors == 1 && strstr(d->errors[0].message, "flow collections nest too deeply"),
				  "YAML flow: %s", first_error(d));
			def_free(d);
			snprintf(name, sizeof(name), "%zu-deep params in YAML flow style refused", depth);
			report(name);
			continue;
		}
		if (check(d->nerrors == 0, "%s: %s", forms[form], first_error(d)) &&
			check(d->models[0].params->height == depth + 2, "%s: height %u", forms[form], d->models[0].params->height))
		{
			for (int out = 0; out < 2; out++)
			{
				DefWritten	w;
				char	   *s = def_serialize_bounded(d, out ? DEF_OUTPUT_JSON : DEF_OUTPUT_YAML, true, 0, &w);

				check(s && w.len < 3 * depth + 4096, "%s written in %zu bytes", out ? "JSON" : "YAML", w.len);
				/* YAML reads flow collections about 20,000 deep; JSON 1000 levels */
				check(out == 1 || (w.flow_work > DEF_MAX_YAML_FLOW_WORK) == (depth > 20000),
					  "YAML flow work %llu", (unsigned long long) w.flow_work);
				check(w.depth == depth + 4, "%s: the writer counts %u levels", out ? "JSON" : "YAML", w.depth);
				free(s);
				round_trips(d, out ? DEF_OUTPUT_JSON : DEF_OUTPUT_YAML);
			}
		}
		def_free(d);
		snprintf(name, sizeof(name), "%zu-deep params from %s read and written back", depth, forms[form]);
		report(name);
	}
	free(doc);
}

static void
test_hostile(void)
{
	char	   *buf;
	size_t		n;

	/* billion laughs: 9 levels of 9 aliases */
	{
		char		doc[4096] = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";

		for (int i = 1; i < 10; i++)
		{
			char		line[256];

			snprintf(line, sizeof(line), "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
					 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
			strcat(doc, line);
		}
		expect_error_s("billion laughs refused", doc, DEF_ERR_LIMIT, 0, 0, "a4[5]", "aliases expand to too many nodes");
	}
	/* many cheap aliases */
	{
		size_t		cap = 32 + 1100 * 4;
		char	   *doc = malloc(cap);

		strcpy(doc, "a: &x 1\nb: [");
		for (int i = 0; i < 1100; i++)
			strcat(doc, "*x,");
		strcat(doc, "1]\n");
		expect_error_s("more than 1000 aliases refused", doc, DEF_ERR_LIMIT, 0, 0, "b[1000]", "too many YAML aliases");
		free(doc);
	}
	/* deep alias chains nest as deep as they expand, counted exactly */
	{
		char		doc[8192] = "models:\n  - name: m\n    provider: p\n    params:\n      a: &d0 [x]\n";
		DefDocument *d;

		for (int i = 1; i < 40; i++)
		{
			char		line[64];

			snprintf(line, sizeof(line), "      b%d: &d%d [*d%d]\n", i, i, i - 1);
			strcat(doc, line);
		}
		strcat(doc, "      z: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*d39]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
		d = parse(doc);
		if (check(d->nerrors == 0, "%s", first_error(d)) &&
			check(d->models[0].params->height == 72, "height %u", d->models[0].params->height))
		{
			round_trips(d, DEF_OUTPUT_YAML);
			round_trips(d, DEF_OUTPUT_JSON);
		}
		def_free(d);
		report("alias chains nest 70 deep, written back without aliases");
	}

	/*
	 * Nesting: YAML has no limit of its own (jsonb has none), and no
	 * recursion: a 100,000-deep params value is read from YAML flow and
	 * block and written back (deep levels on one line, so the text stays
	 * linear in the depth); a million levels are refused by the node
	 * limit.  JSON is read by cJSON, up to 1000 levels: exactly that many
	 * are read and written back, one more is refused before cJSON runs.
	 */
	test_deep(DEF_MAX_JSON_DEPTH - 4);
	test_deep(DEF_MAX_JSON_DEPTH - 3);
	test_deep(15000);
	test_deep(100000);
	n = 1000000;
	buf = malloc(2 * n + 16);
	memset(buf, '[', n);
	memset(buf + n, ']', n);
	expect_error("1000000-deep JSON refused at 1000 levels", buf, 2 * n, DEF_ERR_LIMIT, 1, 1001, "",
				 "JSON document nests more than 1000 levels");
	{
		/* cJSON itself reads as deep as the pre-scan lets through */
		cJSON	   *j;

		memset(buf, '[', DEF_MAX_JSON_DEPTH);
		memset(buf + DEF_MAX_JSON_DEPTH, ']', DEF_MAX_JSON_DEPTH);
		buf[2 * DEF_MAX_JSON_DEPTH] = '\0';
		j = cJSON_Parse(buf);
		check(j != NULL, "cJSON refuses %d levels", DEF_MAX_JSON_DEPTH);
		cJSON_Delete(j);
		report("cJSON reads DEF_MAX_JSON_DEPTH levels");
		memset(buf, '[', n);
		memset(buf + n, ']', n);
	}
	memcpy(buf, "a: ", 3);
	memset(buf + 2 * n - 3, ' ', 3);
	expect_error("1000000-deep YAML flow refused (libyaml's time)", buf, 2 * n, DEF_ERR_LIMIT, 1, 20004, NULL,
				 "YAML flow collections nest too deeply");
	free(buf);
	{
		/* - - - - ... on one line */
		buf = malloc(2 * n + 2);
		for (size_t i = 0; i < n; i++)
			memcpy(buf + 2 * i, "- ", 2);
		buf[2 * n] = 'x';
		expect_error("1000000-deep YAML block refused by the node limit", buf, 2 * n + 1, DEF_ERR_LIMIT, 1, 0,
					 NULL, "too many nodes");
		free(buf);
	}
	{
		/*
		 * The node limit reached exactly as a list opens one level deeper
		 * than any before: its frame was pushed before its node was
		 * counted, and the error's path read that empty frame (SIGSEGV in
		 * 1.0).
		 */
		size_t		cap = 6 * 100000 * 3 + 1000;
		char	   *doc = malloc(cap);
		size_t		len = 0;

		len += snprintf(doc + len, cap - len, "a: [");
		for (int l = 0; l < 4; l++)
		{
			doc[len++] = '[';
			for (int i = 0; i < 99999; i++)
				len += snprintf(doc + len, cap - len, "0, ");
			len += snprintf(doc + len, cap - len, "0], ");
		}
		doc[len++] = '[';
		for (int i = 0; i < 99992; i++)
			len += snprintf(doc + len, cap - len, "0, ");
		len += snprintf(doc + len, cap - len, "[[1]]]]\n");
		expect_error("node limit reached at a new depth", doc, len, DEF_ERR_LIMIT, 0, 0, "a[4][99992]",
					 "too many nodes");
		free(doc);
	}

	/* multi-megabyte documents */
	n = DEF_MAX_DOCUMENT_BYTES + 1;
	buf = malloc(n);
	memset(buf, ' ', n);
	memcpy(buf, "a: b\n", 5);
	expect_error("document over 8 MiB refused", buf, n, DEF_ERR_LIMIT, 0, 0, "", "too large (8388609 bytes)");
	free(buf);

	n = 3 * 1000 * 1000;		/* [0,0,0,...]: 1.5 million values */
	buf = malloc(n);
	buf[0] = '[';
	for (size_t i = 1; i < n - 1; i += 2)
		memcpy(buf + i, "0,", 2);
	buf[n - 2] = '0';
	buf[n - 1] = ']';
	expect_error("3 MB JSON with 1.5M values refused", buf, n, DEF_ERR_LIMIT, 0, 0, "", "too many");
	free(buf);

	{
		/* a big YAML mapping: 200,000 keys (more than the per-mapping item limit) */
		size_t		cap = 200000 * 16 + 16;
		char	   *doc = malloc(cap);
		size_t		len = 0;

		for (int i = 0; i < 200000; i++)
			len += snprintf(doc + len, cap - len, "k%d: 1\n", i);
		expect_error("200000 keys in one mapping refused", doc, len, DEF_ERR_LIMIT, 0, 0, "k100000", "too many items");
		free(doc);
	}
	{
		/* 4 MB of valid definitions: 50,000 flags (accepted: under every limit) */
		size_t		cap = 50000 * 100 + 16;
		char	   *doc = malloc(cap);
		size_t		len = snprintf(doc, cap, "flags:\n");
		DefDocument *d;

		for (int i = 0; i < 50000; i++)
			len += snprintf(doc + len, cap - len, "  - {name: flag_%06d, type: ops, default_enabled: false, milestone: '17.0'}\n", i);
		d = def_parse(doc, len);
		check(len > 3500000 && d->nerrors == 0 && d->nflags == 50000, "%s", first_error(d));
		def_free(d);
		free(doc);
		report("3.7 MB document of 50000 flags accepted");
	}

	/* invalid UTF-8, in both formats, and NUL */
	expect_error("invalid UTF-8 in YAML", "a: \"\xff\"\n", 7, DEF_ERR_ENCODING, 1, 5, "", "invalid UTF-8");
	expect_error("invalid UTF-8 in JSON", "{\"a\": \"\xc3\x28\"}", 12, DEF_ERR_ENCODING, 1, 8, "", "invalid UTF-8");
	expect_error("overlong UTF-8", "a: \xc0\xaf\n", 6, DEF_ERR_ENCODING, 1, 4, "", "invalid UTF-8");
	expect_error("UTF-8 surrogate", "a: \xed\xa0\x80\n", 7, DEF_ERR_ENCODING, 1, 4, "", "invalid UTF-8");
	expect_error("truncated UTF-8 at the end", "a: \xe2\x82", 5, DEF_ERR_ENCODING, 1, 4, "", "invalid UTF-8");
	expect_error("NUL byte", "a: b\0c\n", 7, DEF_ERR_ENCODING, 1, 5, "", "NUL");
	expect_error_s("YAML \\0 escape", "a: \"x\\0y\"\n", DEF_ERR_ENCODING, 1, 4, "a", "NUL");
	expect_error_s("YAML control character", "a: \"\x01\"\n", DEF_ERR_ENCODING, 1, 5, "", "U+0001");
	{
		DefDocument *d = parse("\xef\xbb\xbfproviders: [{name: a}]\n");

		check(d->nerrors == 0, "BOM: %s", first_error(d));
		def_free(d);
		report("UTF-8 byte order mark skipped");
	}

	/* duplicate keys, small and large mappings, YAML and JSON */
	expect_error_s("duplicate key in YAML", "providers:\n  - name: a\n    note: x\n    name: b\n",
				   DEF_ERR_DUPLICATE_KEY, 4, 5, "providers[0].name", "duplicate key \"name\"");
	expect_error_s("duplicate key in JSON", "{\"providers\": [], \"models\": [], \"providers\": []}",
				   DEF_ERR_DUPLICATE_KEY, 1, 33, "providers", "duplicate key \"providers\"");
	{
		char		doc[2048] = "";

		for (int i = 0; i < 40; i++)
		{
			char		line[32];

			snprintf(line, sizeof(line), "k%d: 1\n", i == 33 ? 7 : i);
			strcat(doc, line);
		}
		expect_error_s("duplicate key in a 40-key mapping", doc, DEF_ERR_DUPLICATE_KEY, 34, 1, "k7", "duplicate key \"k7\"");
	}
	expect_error_s("duplicate definition", "models:\n  - {name: m, provider: p}\n  - {name: m, provider: p}\n",
				   DEF_ERR_DUPLICATE, 3, 12, "models[1].name", "model \"m\" is defined twice");
}

static void
test_values(void)
{
	expect_error_s("unknown key", "providers:\n  - name: a\n    colour: red\n",
				   DEF_ERR_VALUE, 3, 5, "providers[0].colour", "unknown key \"colour\" in a provider definition");
	expect_error_s("unknown top-level key", "provider: []\n", DEF_ERR_VALUE, 1, 1, "provider", "unknown top-level key \"provider\"");
	expect_error_s("missing name", "models:\n  - provider: p\n", DEF_ERR_VALUE, 2, 5, "models[0]", "has no \"name\"");
	expect_error_s("missing route model", "features: [{name: f, routes: [{flag: x}]}]\n",
				   DEF_ERR_VALUE, 1, 31, "features[0].routes[0]", "route definition has no \"model\"");
	expect_error_s("wrong type: string", "flags: [{name: f, milestone: 17.6}]\n",
				   DEF_ERR_VALUE, 1, 30, "flags[0].milestone", "\"milestone\" must be a string or null, not the number 17.6");
	expect_error_s("wrong type: boolean", "providers: [{name: p, available: maybe}]\n",
				   DEF_ERR_VALUE, 1, 34, "providers[0].available", "must be true or false, not the string \"maybe\"");
	expect_error_s("wrong type: list", "flags: {name: f}\n", DEF_ERR_VALUE, 1, 8, "flags", "\"flags\" must be a list, not a mapping");
	expect_error_s("wrong type: params", "models: [{name: m, provider: p, params: [1]}]\n",
				   DEF_ERR_VALUE, 1, 41, "models[0].params", "\"params\" must be a mapping, not a list");
	expect_error_s("bad param type", "models: [{name: m, provider: p, params: {max_tokens: 1.5}}]\n",
				   DEF_ERR_VALUE, 1, 54, "models[0].params.max_tokens", "invalid value 1.5 for param \"max_tokens\"");
	expect_error_s("invalid flag name", "flags: [{name: Bad-Flag}]\n", DEF_ERR_VALUE, 1, 16, "flags[0].name", "invalid flag name \"Bad-Flag\"");
	expect_error_s("flag names have no dots", "flags: [{name: a.b}]\n", DEF_ERR_VALUE, 1, 16, "flags[0].name", "invalid flag name");
	{
		char		doc[600];

		snprintf(doc, sizeof(doc), "providers: [{name: %0300d}]\n", 0);
		memset(doc + 19, 'a', 300);
		expect_error_s("name too long", doc, DEF_ERR_LENGTH, 1, 20, "providers[0].name", "is too long");
	}
	expect_error_s("invalid flag type", "flags: [{name: f, type: feature}]\n",
				   DEF_ERR_VALUE, 1, 25, "flags[0].type", "invalid type \"feature\" for flag \"f\"");
	expect_error_s("percentage out of range", "flags: [{name: f, percentage_of_actors: 101}]\n",
				   DEF_ERR_RANGE, 1, 41, "flags[0].percentage_of_actors", "percentage_of_actors 101 is out of range for flag \"f\"");
	expect_error_s("negative percentage", "flags: [{name: f, percentage_of_time: -1}]\n",
				   DEF_ERR_RANGE, 1, 39, "flags[0].percentage_of_time", "out of range");
	expect_error_s("percentage with 4 decimals", "flags: [{name: f, percentage_of_actors: 1.2345}]\n",
				   DEF_ERR_VALUE, 1, 41, "flags[0].percentage_of_actors", "more than 3 decimals");
	{
		DefDocument *d = parse("flags: [{name: f, percentage_of_actors: 12.500, percentage_of_time: 1.5e+1}]\n");

		check(d->nerrors == 0, "%s", first_error(d));
		def_free(d);
		report("percentages 12.500 and 1.5e+1 accepted");
	}

	/*
	 * Numbers are judged exactly, as the tables' numeric does, not through
	 * a double: 1e400 is a non-negative integer, -1e-400 is negative,
	 * 100.000...01 is above 100.
	 */
	{
		DefDocument *d = parse("{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"max_tokens\": 1e400, \"top_k\": 2.50e1, \"timeout\": -0.0}}],"
							   " \"flags\": [{\"name\": \"f\", \"percentage_of_actors\": 1.00000e2, \"percentage_of_time\": 5.0125e1}]}");

		check(d->nerrors == 0, "%s", first_error(d));
		if (d->nerrors == 0)
			round_trips(d, DEF_OUTPUT_YAML);
		def_free(d);
		report("1e400 an integer, 2.50e1 an integer, -0.0 not negative, 1.00000e2 and 5.0125e1 percentages");
	}
	expect_error_s("-1e-400 is negative", "{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"temperature\": -1e-400}}]}",
				   DEF_ERR_VALUE, 0, 0, "models[0].params.temperature", "invalid value -1e-400");
	expect_error_s("1e400 plus a fraction is no integer", "{\"models\": [{\"name\": \"m\", \"provider\": \"p\", \"params\": {\"max_tokens\": 1.00000000000000000000000000001e28}}]}",
				   DEF_ERR_VALUE, 0, 0, "models[0].params.max_tokens", "invalid value");
	expect_error_s("100 and a tiny bit is out of range",
				   "flags: [{name: f, percentage_of_actors: 100.00000000000000000000000000000000000000000000000000000000000000000001}]\n",
				   DEF_ERR_RANGE, 1, 41, "flags[0].percentage_of_actors", "out of range");
	expect_error_s("a percentage with 4 decimals through its exponent",
				   "{\"flags\": [{\"name\": \"f\", \"percentage_of_actors\": 5.00001e1}]}",
				   DEF_ERR_VALUE, 0, 0, "flags[0].percentage_of_actors", "more than 3 decimals");
	expect_error_s("a percentage of 1e3 is out of range", "{\"flags\": [{\"name\": \"f\", \"percentage_of_time\": 1e3}]}",
				   DEF_ERR_RANGE, 0, 0, "flags[0].percentage_of_time", "out of range");
	expect_error_s("empty actor", "flags: [{name: f, actors: ['']}]\n", DEF_ERR_VALUE, 1, 28, "flags[0].actors[0]", "actor must not be empty");
	expect_error_s("duplicate actor", "flags: [{name: f, actors: [User:1, User:1]}]\n",
				   DEF_ERR_DUPLICATE, 1, 36, "flags[0].actors[1]", "actor \"User:1\" is listed twice");
	expect_error_s("actor and opt-out", "flags: [{name: f, actors: [User:1], opt_outs: [User:1]}]\n",
				   DEF_ERR_VALUE, 1, 48, "flags[0].opt_outs[0]", "both an actor and an opt-out");
	expect_error_s("route positions must increase",
				   "features: [{name: f, routes: [{position: 3, model: a}, {model: b}, {position: 4, model: c}]}]\n",
				   DEF_ERR_VALUE, 1, 79, "features[0].routes[2].position", "route position 4 does not come after position 4");
	expect_error_s("route position not an integer", "features: [{name: f, routes: [{position: 1.5, model: a}]}]\n",
				   DEF_ERR_VALUE, 1, 42, "features[0].routes[0].position", "invalid route position");
	{
		DefDocument *d = parse("features: [{name: f, routes: [{model: a}, {position: 10, model: b}, {model: c}]}]\n");

		check(d->nerrors == 0 && d->features[0].routes[0].position == 1 &&
			  d->features[0].routes[1].position == 10 && d->features[0].routes[2].position == 11,
			  "%s", first_error(d));
		def_free(d);
		report("implicit route positions follow the previous one");
	}
	{
		/* errors are collected, up to the limit */
		char		doc[8192] = "providers:\n";
		DefDocument *d;

		for (int i = 0; i < 80; i++)
			strcat(doc, "  - {name: A}\n");
		d = parse(doc);
		check(d->nerrors == DEF_MAX_ERRORS, "%d errors", d->nerrors);
		check(d->errors[1].line == 3, "second error line %d", d->errors[1].line);
		def_free(d);
		report("errors collected up to the limit");
	}
}

static void
test_references(void)
{
	DefDocument *docs[2];
	int			n;

	docs[0] = parse("features: [{name: f, routes: [{flag: x, model: m}, {model: gone}]}]\n");
	docs[1] = parse("providers: [{name: p}]\nmodels: [{name: m, provider: p}, {name: n, provider: q}]\nflags: [{name: x}]\n");
	n = def_check_references(docs, 2);
	check(n == 2, "%d errors", n);
	check(docs[0]->nerrors == 1 && docs[0]->errors[0].kind == DEF_ERR_REFERENCE &&
		  strcmp(docs[0]->errors[0].path, "features[0].routes[1].model") == 0 &&
		  strstr(docs[0]->errors[0].message, "unknown model \"gone\"") != NULL, "route: %s", first_error(docs[0]));
	check(docs[1]->nerrors == 1 && strcmp(docs[1]->errors[0].path, "models[1].provider") == 0 &&
		  docs[1]->errors[0].line == 2 && docs[1]->errors[0].column == 54, "provider: %s", first_error(docs[1]));
	def_free(docs[0]);
	def_free(docs[1]);
	report("cross-references within a file set");
}

static void
test_builder(void)
{
	DefDocument *d = def_new_document();
	DefProvider *p = def_add_provider(d, "anthropic");
	DefModel   *m = def_add_model(d, "claude");
	DefFlag    *f = def_add_flag(d, "on_off");
	DefFeature *ft = def_add_feature(d, "chat");
	DefRoute   *r = def_add_route(d, ft);
	DefNode    *params = def_node_new(d, DEF_NODE_OBJECT, NULL, 0);
	DefNode    *stop = def_node_new(d, DEF_NODE_ARRAY, NULL, 0);
	char		longkey[400];
	char	   *yaml,
			   *json,
			   *rows;

	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	p->available = false;
	p->present = DEF_PROVIDER_AVAILABLE | DEF_PROVIDER_NOTE;
	p->note = def_strdup(d, "line one\nline \"two\"\ttab \xe2\x80\xa8 sep");
	m->provider = def_strdup(d, "anthropic");
	m->present = DEF_MODEL_PROVIDER | DEF_MODEL_PARAMS | DEF_MODEL_ENABLED;
	def_node_append(d, stop, NULL, def_node_new(d, DEF_NODE_STRING, "</new_code>", 11));
	def_node_append(d, stop, NULL, def_node_new(d, DEF_NODE_STRING, "yes", 3));
	def_node_append(d, params, def_node_new(d, DEF_NODE_STRING, "stop", 4), stop);
	def_node_append(d, params, def_node_new(d, DEF_NODE_STRING, "true", 4), def_node_new(d, DEF_NODE_NUMBER, "1e+400", 6));
	def_node_append(d, params, def_node_new(d, DEF_NODE_STRING, "", 0), def_node_new(d, DEF_NODE_NULL, NULL, 0));
	def_node_append(d, params, def_node_new(d, DEF_NODE_STRING, longkey, strlen(longkey)),
					def_node_new(d, DEF_NODE_OBJECT, NULL, 0));
	m->params = params;
	f->present = DEF_FLAG_ENABLED | DEF_FLAG_PERCENTAGE_OF_TIME | DEF_FLAG_MILESTONE;
	f->enabled = 1;
	f->percentage_of_time = def_strdup(d, "0.125");
	f->milestone = def_strdup(d, "17.10");
	def_add_actor(d, f, "User:1", false);
	def_add_actor(d, f, "- tricky: actor #1", true);
	r->position = 0;
	r->model = def_strdup(d, "claude");
	r->flag = def_strdup(d, "on_off");

	yaml = def_serialize(d, DEF_OUTPUT_YAML, true, NULL);
	json = def_serialize(d, DEF_OUTPUT_JSON, true, NULL);
	check(strstr(yaml, "milestone: \"17.10\"") != NULL, "milestone quoted:\n%s", yaml);
	check(strstr(yaml, "- \"yes\"") != NULL, "yes quoted:\n%s", yaml);
	check(strstr(yaml, "\"true\": 1.0e+400") != NULL, "number for YAML 1.1:\n%s", yaml);
	check(strstr(yaml, "\\u2028") != NULL, "line separator escaped:\n%s", yaml);
	check(strstr(yaml, "? kkkk") != NULL, "long key explicit:\n%s", yaml);
	round_trips(d, DEF_OUTPUT_YAML);
	round_trips(d, DEF_OUTPUT_JSON);
	rows = def_rows_json(d, DEF_TABLE_FLAGS, DEF_FLAG_ENABLED | DEF_FLAG_PERCENTAGE_OF_TIME | DEF_FLAG_MILESTONE);
	check(rows && strcmp(rows, "[{\"name\": \"on_off\",\"enabled\": true,\"percentage_of_time\": 0.125,\"milestone\": \"17.10\"}]") == 0,
		  "rows %s", rows);
	free(rows);
	rows = def_rows_json(d, DEF_TABLE_FLAGS, DEF_FLAG_ENABLED);
	check(rows && strcmp(rows, "[]") == 0, "mask filter %s", rows);
	free(rows);
	rows = def_actors_json(d, true);
	check(rows && strstr(rows, "\"actor\": \"- tricky: actor #1\"") != NULL, "opt-outs %s", rows);
	{
		cJSON	   *j = cJSON_Parse(json);

		check(j != NULL, "JSON dump invalid:\n%s", json);
		cJSON_Delete(j);
	}
	free(rows);
	free(yaml);
	free(json);
	def_free(d);
	report("builder, dump quoting and escaping, rows");

	/*
	 * A key of 200 control characters is 1,200 characters once escaped:
	 * past YAML's 1,024 for an implicit key, so it is written "? key",
	 * in block and in flow style.
	 */
	d = def_new_document();
	m = def_add_model(d, "m");
	m->present = DEF_MODEL_PROVIDER | DEF_MODEL_PARAMS;
	m->provider = def_strdup(d, "p");
	m->params = def_node_new(d, DEF_NODE_OBJECT, NULL, 0);
	memset(longkey, '\001', 200);
	longkey[200] = '\0';
	{
		DefNode    *deep = def_node_new(d, DEF_NODE_OBJECT, NULL, 0);
		DefNode    *inner = deep;

		/* 30 levels: the inner ones are written in flow style */
		for (int i = 0; i < 30; i++)
		{
			DefNode    *next = def_node_new(d, DEF_NODE_OBJECT, NULL, 0);

			def_node_append(d, inner, def_node_new(d, DEF_NODE_STRING, "k", 1), next);
			inner = next;
		}
		def_node_append(d, inner, def_node_new(d, DEF_NODE_STRING, longkey, 200), def_node_new(d, DEF_NODE_NUMBER, "1", 1));
		def_node_append(d, m->params, def_node_new(d, DEF_NODE_STRING, longkey, 200), def_node_new(d, DEF_NODE_NUMBER, "2", 1));
		def_node_append(d, m->params, def_node_new(d, DEF_NODE_STRING, "deep", 4), deep);
	}
	yaml = def_serialize(d, DEF_OUTPUT_YAML, true, NULL);
	check(strstr(yaml, "? \"\\u0001") != NULL, "long escaped key explicit in block style:\n%.300s", yaml);
	check(strstr(yaml, "{? \"\\u0001") != NULL, "long escaped key explicit in flow style:\n%.3000s", yaml);
	round_trips(d, DEF_OUTPUT_YAML);
	round_trips(d, DEF_OUTPUT_JSON);
	free(yaml);
	{
		DefWritten	w;
		char	   *s = def_serialize_bounded(d, DEF_OUTPUT_YAML, true, 100, &w);

		check(s == NULL && w.too_large, "100-byte limit: %s", s ? s : "NULL, not too large");
		free(s);
		s = def_serialize_bounded(d, DEF_OUTPUT_JSON, true, 100000, &w);
		check(s != NULL && !w.too_large && w.len == strlen(s), "100000-byte limit");
		free(s);
	}
	def_free(d);
	report("long escaped keys written explicitly; the byte limit stops the writer");

	/* a percentage read from JSON as 1e1 is written so that YAML reads a number */
	d = parse("{\"flags\": [{\"name\": \"f\", \"percentage_of_actors\": 1e1}]}");
	if (check(d->nerrors == 0, "%s", first_error(d)))
		round_trips(d, DEF_OUTPUT_YAML);
	def_free(d);
	report("a percentage 1e1 from JSON round-trips through YAML");
}

/*
 * Params exactly as deep as a JSON document can hold them, in a model and
 * in a route (DEF_MODEL_PARAMS_LEVELS, DEF_ROUTE_PARAMS_LEVELS, what
 * dump_definitions holds them to), and one level deeper: the writer counts
 * the levels the parser counts, and the JSON text is read, or refused.
 */
static void
test_json_depth(void)
{
	for (int route = 0; route < 2; route++)
	{
		for (int extra = 0; extra < 2; extra++)
		{
			DefDocument *d = def_new_document();
			int			levels = route ? DEF_ROUTE_PARAMS_LEVELS : DEF_MODEL_PARAMS_LEVELS;
			int			depth = DEF_MAX_JSON_DEPTH - levels + extra;	/* of params */
			DefNode    *params = def_node_new(d, DEF_NODE_OBJECT, NULL, 0);
			DefNode    *inner = def_node_new(d, DEF_NODE_ARRAY, NULL, 0);
			DefModel   *m = def_add_model(d, "m");
			DefWritten	w;
			char	   *s;

			def_node_append(d, inner, NULL, def_node_new(d, DEF_NODE_NUMBER, "1", 1));
			for (int i = 2; i < depth; i++)
			{
				DefNode    *outer = def_node_new(d, DEF_NODE_ARRAY, NULL, 0);

				def_node_append(d, outer, NULL, inner);
				inner = outer;
			}
			def_node_append(d, params, def_node_new(d, DEF_NODE_STRING, "x", 1), inner);
			m->present = DEF_MODEL_PROVIDER;
			m->provider = def_strdup(d, "p");
			if (route)
			{
				DefRoute   *r = def_add_route(d, def_add_feature(d, "f"));

				d->features[0].present = DEF_FEATURE_ROUTES;
				r->model = def_strdup(d, "m");
				r->params = params;
			}
			else
			{
				m->present |= DEF_MODEL_PARAMS;
				m->params = params;
			}
			s = def_serialize_bounded(d, DEF_OUTPUT_JSON, true, 0, &w);
			check(s && w.depth == (uint32_t) (DEF_MAX_JSON_DEPTH + extra), "%s params %d deep written %u levels deep",
				  route ? "route" : "model", depth, w.depth);
			free(s);
			round_trips(d, DEF_OUTPUT_JSON);
			round_trips(d, DEF_OUTPUT_YAML);
			def_free(d);
		}
	}
	report("params as deep as JSON holds them read back, one level more refused");
}

int
main(void)
{
	test_example();
	test_gitlab_files();
	test_yaml_scalars();
	test_syntax_and_positions();
	test_hostile();
	test_values();
	test_references();
	test_builder();
	test_json_depth();
	return failures ? 1 : 0;
}
