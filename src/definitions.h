/*
 * definitions.h — definitions as code: the pure core of load_definitions,
 * dump_definitions and modelflags-lint.
 *
 * A definitions document (YAML read with libyaml, JSON with cJSON) is
 * parsed into a DefDocument: arrays of providers, models, flags and features
 * (with their ordered routes), each field marked present or absent, every
 * value already checked against the same rules as the database triggers,
 * and every definition carrying the line:column and path (such as
 * features[2].routes[0].model) where it was written.  Four formats are read,
 * told apart by their top-level keys: our own, and GitLab's feature-flag
 * definitions, AI gateway models.yml and unit_primitives.yml.
 *
 * The other direction, def_serialize, writes a DefDocument (built by the
 * PostgreSQL shell from the tables) as YAML or JSON in our format.
 *
 * The parser is the files src/def_*.c, one stage each (definitions_int.h
 * gives the pipeline and what they share).  No PostgreSQL header is included
 * here or there: the parser is unit-tested under AddressSanitizer and fuzzed
 * as a plain program.  All the memory of a document lives in one arena
 * freed by def_free; libyaml's memory is released before def_parse returns.
 * No input makes the parser crash, recurse, allocate without bound or keep
 * libyaml busy: see the limits below, documented in README.md ("Definitions
 * as code").
 */
#ifndef MODELFLAGS_DEFINITIONS_H
#define MODELFLAGS_DEFINITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits, all enforced before the limited thing is allocated.  The length
 * of a number has none (jsonb has none), nor has the nesting of YAML: no
 * reader, tree walk or writer recurses on depth, and each level is a node.
 * JSON nests at most DEF_MAX_JSON_DEPTH levels, cJSON's own limit.
 * dump_definitions refuses what would exceed them, so that whatever it
 * writes, load_definitions reads.
 */
#define DEF_MAX_DOCUMENT_BYTES	(8 * 1024 * 1024)	/* 8 MiB */
#define DEF_MAX_NODES			500000	/* YAML/JSON nodes, aliases expanded */
#define DEF_MAX_ITEMS			100000	/* entries in one mapping/sequence */
#define DEF_MAX_ALIASES			1000	/* YAML alias references */
#define DEF_MAX_ALIAS_NODES		50000	/* nodes reached through aliases */
/*
 * libyaml spends, on each token, time proportional to the number of flow
 * collections ([...], {...}) open around it: the sum of that number over
 * the values and keys of a YAML document is bounded (a chain of about
 * 20,000 nested flow collections; block style and JSON have no such cost).
 */
#define DEF_MAX_YAML_FLOW_WORK	200000000
/*
 * JSON is read with cJSON, which recurses and stops at CJSON_NESTING_LIMIT
 * (1000 in Debian's build): lists and mappings nested deeper are refused
 * before cJSON runs.  The document's own levels count: a model's params sit
 * inside DEF_MODEL_PARAMS_LEVELS of them (the top-level mapping, "models",
 * the model), a route's inside DEF_ROUTE_PARAMS_LEVELS.  YAML takes deeper
 * documents.
 */
#define DEF_MAX_JSON_DEPTH		1000
#define DEF_MODEL_PARAMS_LEVELS	3
#define DEF_ROUTE_PARAMS_LEVELS	5
#define DEF_MAX_ERRORS			50		/* errors collected per document */

/* What went wrong; the shell maps each kind to one SQLSTATE. */
typedef enum DefErrorKind
{
	DEF_ERR_SYNTAX,				/* not YAML/JSON: 22P02 */
	DEF_ERR_ENCODING,			/* invalid UTF-8, NUL: 22021 */
	DEF_ERR_UNSUPPORTED,		/* tags, merge keys, complex keys: 0A000 */
	DEF_ERR_DUPLICATE_KEY,		/* a key twice in one mapping: 22030 */
	DEF_ERR_VALUE,				/* wrong type, unknown/missing key, bad name: 22023 */
	DEF_ERR_RANGE,				/* percentage out of 0..100: 22003 */
	DEF_ERR_LENGTH,				/* name or actor too long: 22001 */
	DEF_ERR_DUPLICATE,			/* a name defined twice: 42710 */
	DEF_ERR_REFERENCE,			/* unknown model/flag/provider: 23503 */
	DEF_ERR_LIMIT,				/* a limit above: 54000 */
	DEF_ERR_MEMORY				/* malloc failed: 53200 */
} DefErrorKind;

typedef struct DefError
{
	DefErrorKind kind;
	int			line;			/* 1-based; 0 = no position */
	int			column;			/* 1-based, in characters */
	char		path[256];		/* e.g. features[2].routes[0].model; "" = the document */
	char		message[512];	/* lowercase, names the offending value */
	char		hint[256];		/* "" = none */
} DefError;

/* Where a value was written: for error messages about it later on. */
typedef struct DefSite
{
	int			line;
	int			column;
	const char *path;
} DefSite;

/* The four document formats, detected from the top-level keys. */
typedef enum DefFormat
{
	DEF_FORMAT_MODELFLAGS,		/* providers/models/flags/features */
	DEF_FORMAT_GITLAB_FLAG,		/* config/feature_flags/<type>/<name>.yml */
	DEF_FORMAT_GITLAB_MODELS,	/* AI gateway models.yml (models[].gitlab_identifier) */
	DEF_FORMAT_GITLAB_UNIT_PRIMITIVES	/* AI gateway unit_primitives.yml */
} DefFormat;

extern const char *def_format_name(DefFormat format);

/* Tree of a parsed JSON value (params); also built by the shell for dumps. */
typedef enum DefNodeKind
{
	DEF_NODE_NULL,
	DEF_NODE_BOOL,
	DEF_NODE_NUMBER,			/* text is a valid JSON number */
	DEF_NODE_STRING,
	DEF_NODE_ARRAY,
	DEF_NODE_OBJECT
} DefNodeKind;

typedef struct DefNode DefNode;
struct DefNode
{
	uint8_t		kind;			/* DefNodeKind */
	int			line;
	int			column;
	uint32_t	len;			/* bytes of text */
	uint32_t	count;			/* items of an array/object */
	uint32_t	nodes;			/* nodes in this subtree, itself included */
	uint32_t	height;			/* 1 for a scalar */
	uint32_t	cap;			/* allocated keys/items (builder) */
	const char *text;			/* scalars: NUL-terminated; bool: "true"/"false" */
	DefNode   **keys;			/* object: key nodes (strings) */
	DefNode   **items;			/* array items or object values */
};

/* Bits of DefProvider.present etc.: which fields the document gave. */
/*
 * The bits of the fields that are columns (DEF_*_COLUMNS) are those
 * src/schema_catalogue.h gives the tables' columns: def_rows.c checks both
 * at build time.
 */
enum
{
	DEF_PROVIDER_AVAILABLE = 1 << 0,
	DEF_PROVIDER_NOTE = 1 << 1
};
#define DEF_PROVIDER_COLUMNS	((unsigned) (DEF_PROVIDER_AVAILABLE | DEF_PROVIDER_NOTE))
enum
{
	DEF_MODEL_PROVIDER = 1 << 0,
	DEF_MODEL_PARAMS = 1 << 1,
	DEF_MODEL_ENABLED = 1 << 2,
	DEF_MODEL_DESCRIPTION = 1 << 3
};
#define DEF_MODEL_COLUMNS	((unsigned) (DEF_MODEL_PROVIDER | DEF_MODEL_PARAMS | DEF_MODEL_ENABLED | \
									 DEF_MODEL_DESCRIPTION))
enum
{
	DEF_FLAG_ENABLED = 1 << 0,
	DEF_FLAG_PERCENTAGE_OF_ACTORS = 1 << 1,
	DEF_FLAG_PERCENTAGE_OF_TIME = 1 << 2,
	DEF_FLAG_TYPE = 1 << 3,
	DEF_FLAG_DEFAULT_ENABLED = 1 << 4,
	DEF_FLAG_GROUP = 1 << 5,
	DEF_FLAG_MILESTONE = 1 << 6,
	DEF_FLAG_DESCRIPTION = 1 << 7,
	DEF_FLAG_INTRODUCED_BY_URL = 1 << 8,
	DEF_FLAG_ROLLOUT_ISSUE_URL = 1 << 9,
	DEF_FLAG_FEATURE_ISSUE_URL = 1 << 10,
	DEF_FLAG_LOG_STATE_CHANGES = 1 << 11,
	DEF_FLAG_ACTORS = 1 << 12,	/* not a column: rows of flag_actors */
	DEF_FLAG_OPT_OUTS = 1 << 13 /* not a column: rows of flag_actors */
};
#define DEF_FLAG_COLUMNS	((unsigned) (DEF_FLAG_ACTORS - 1))
enum
{
	DEF_FEATURE_DESCRIPTION = 1 << 0,
	DEF_FEATURE_ROUTES = 1 << 1 /* not a column: rows of routes */
};
#define DEF_FEATURE_COLUMNS	((unsigned) DEF_FEATURE_DESCRIPTION)

/* Tables, for def_rows_json and def_column_*. */
typedef enum DefTable
{
	DEF_TABLE_PROVIDERS,
	DEF_TABLE_MODELS,
	DEF_TABLE_FLAGS,
	DEF_TABLE_FEATURES
} DefTable;

/* Tri-state booleans of nullable columns. */
#define DEF_NULL	(-1)

typedef struct DefProvider
{
	const char *name;
	unsigned	present;
	bool		available;
	const char *note;			/* NULL = null */
	bool		derived;		/* made up from a GitLab models.yml entry */
	DefSite		site;
} DefProvider;

typedef struct DefModel
{
	const char *name;
	unsigned	present;
	const char *provider;
	DefNode    *params;			/* an object, or NULL when absent */
	bool		enabled;
	const char *description;
	DefSite		site;
	DefSite		provider_site;
} DefModel;

typedef struct DefActor
{
	const char *actor;
	DefSite		site;
} DefActor;

typedef struct DefFlag
{
	const char *name;
	unsigned	present;
	int			enabled;		/* DEF_NULL, 0, 1 */
	const char *percentage_of_actors;	/* numeric text; NULL = null */
	const char *percentage_of_time;
	const char *type;
	bool		default_enabled;
	const char *group;
	const char *milestone;
	const char *description;
	const char *introduced_by_url;
	const char *rollout_issue_url;
	const char *feature_issue_url;
	int			log_state_changes;	/* DEF_NULL, 0, 1 */
	DefActor   *actors;
	int			nactors;
	DefActor   *opt_outs;
	int			nopt_outs;
	int			cap_actors;
	int			cap_opt_outs;
	DefSite		site;
} DefFlag;

typedef struct DefRoute
{
	int			position;		/* relative (0, 1, ...) in GitLab unit primitives */
	const char *flag;			/* NULL = always applies */
	const char *model;
	DefNode    *params;			/* object, or NULL = {} */
	const char *note;
	DefSite		site;
	DefSite		flag_site;
	DefSite		model_site;
} DefRoute;

/*
 * How a feature's routes are replaced.  Our format: the routes listed are
 * exactly the feature's routes.  unit_primitives.yml: its default models are
 * exactly the feature's routes without a flag, placed after its flagged ones
 * (positions relative; the shell adds max(flagged position) + 1).
 */
typedef enum DefRoutesMode
{
	DEF_ROUTES_ALL,
	DEF_ROUTES_UNFLAGGED
} DefRoutesMode;

typedef struct DefFeature
{
	const char *name;
	unsigned	present;
	const char *description;
	DefRoutesMode routes_mode;
	DefRoute   *routes;
	int			nroutes;
	int			cap_routes;
	DefSite		site;
} DefFeature;

typedef struct DefArena DefArena;
struct MfStrMap;

typedef struct DefDocument
{
	DefArena   *arena;
	DefFormat	format;
	bool		has_section[4];	/* by DefTable: section given (our format) */
	DefProvider *providers;
	int			nproviders;
	DefModel   *models;
	int			nmodels;
	DefFlag    *flags;
	int			nflags;
	DefFeature *features;
	int			nfeatures;
	/* capacities, for the builder functions */
	int			cap[4];
	/* name -> index, by DefTable (documents from def_parse only) */
	struct MfStrMap *names;
	DefError   *errors;
	int			nerrors;
	bool		oom;
	uint32_t	nodes;			/* nodes read, aliases expanded (def_parse) */
	uint64_t	flow_work;		/* YAML: see DEF_MAX_YAML_FLOW_WORK (def_parse) */
} DefDocument;

/*
 * Parses and checks a document.  Returns NULL only when even the document
 * structure could not be allocated; otherwise check doc->nerrors (errors are
 * in document order as far as the parser could tell; the first is the one
 * to report).  A document with errors holds no usable definitions.
 */
extern DefDocument *def_parse(const char *text, size_t len);

/* Frees a document and everything in it. */
extern void def_free(DefDocument *doc);

/* Index of the named provider/model/flag/feature in doc, or -1. */
extern int	def_find(const DefDocument *doc, DefTable table, const char *name);

/*
 * Cross-references within a set of documents (modelflags-lint): every model
 * provider, route model/flag and unit-primitive default model must be
 * defined by one of docs.  Errors are appended to the referring document.
 * Returns the number of errors added.
 */
extern int	def_check_references(DefDocument **docs, int ndocs);

/* Formats one error as "line:col: path: message" into buf. */
extern void def_format_error(const DefError *err, char *buf, size_t size);

/* ----- Writing ----- */

typedef enum DefOutput
{
	DEF_OUTPUT_YAML,
	DEF_OUTPUT_JSON
} DefOutput;

/*
 * Writes doc in our format.  state = false leaves out the run-time state
 * (providers.available, flag gates, actors and opt-outs), for definitions
 * kept in git.  Returns a malloc'd NUL-terminated string (free with free),
 * or NULL when out of memory.
 */
extern char *def_serialize(const DefDocument *doc, DefOutput output, bool state,
						   size_t *len);

/* What def_serialize_bounded wrote. */
typedef struct DefWritten
{
	size_t		len;			/* bytes, without the final NUL */
	uint64_t	nodes;			/* the nodes def_parse counts in it */
	uint64_t	flow_work;		/* YAML: what def_parse holds to DEF_MAX_YAML_FLOW_WORK */
	uint32_t	depth;			/* the deepest nesting of lists and mappings, the
								 * document's own included (DEF_MAX_JSON_DEPTH) */
	bool		too_large;		/* more than max_bytes: NULL was returned */
} DefWritten;

/*
 * def_serialize, writing at most max_bytes (0 = no limit; past it, NULL
 * and written->too_large), and counting the nodes it writes the way
 * def_parse counts them, for dump_definitions to hold the parser's limits.
 */
extern char *def_serialize_bounded(const DefDocument *doc, DefOutput output, bool state,
								   size_t max_bytes, DefWritten *written);

/*
 * The rows of one table that have exactly the present-mask mask, as a JSON
 * array of objects whose keys are the present columns (and "name"), for
 * jsonb_to_recordset.  Returns a malloc'd string, or NULL when out of memory.
 */
extern char *def_rows_json(const DefDocument *doc, DefTable table, unsigned mask);

/* Flag actor gates (opt_out false) or opt-outs (true) of the flags whose
 * document lists them: [{"flag": ..., "actor": ..., "i": flag index, "j": item}]. */
extern char *def_actors_json(const DefDocument *doc, bool opt_out);

/* Routes of the features in the given mode: [{"feature", "position", "flag",
 * "model", "params", "note", "i": feature index, "j": route index}]. */
extern char *def_routes_json(const DefDocument *doc, DefRoutesMode mode);

/* SQL name and type of one presence bit of a table (NULL if not a column). */
extern const char *def_column_name(DefTable table, unsigned bit);
extern const char *def_column_type(DefTable table, unsigned bit);
extern unsigned def_column_bits(DefTable table);

/* ----- Building a document (dump_definitions) ----- */

extern DefDocument *def_new_document(void);
extern char *def_strdup(DefDocument *doc, const char *s);
extern DefProvider *def_add_provider(DefDocument *doc, const char *name);
extern DefModel *def_add_model(DefDocument *doc, const char *name);
extern DefFlag *def_add_flag(DefDocument *doc, const char *name);
#if defined(__GNUC__)
#define DEF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DEF_PRINTF(f, a)
#endif

/*
 * Appends an error at site (line, column and path; NULL for none) with an
 * optional hint; false once the error list is full.
 */
extern bool def_error(DefDocument *doc, DefErrorKind kind, const DefSite *site,
					  const char *hint, const char *fmt,...) DEF_PRINTF(5, 6);
extern DefFeature *def_add_feature(DefDocument *doc, const char *name);
extern DefRoute *def_add_route(DefDocument *doc, DefFeature *feature);
extern DefActor *def_add_actor(DefDocument *doc, DefFlag *flag, const char *actor,
							   bool opt_out);

/* JSON value nodes; containers are filled with def_node_append. */
extern DefNode *def_node_new(DefDocument *doc, DefNodeKind kind,
							 const char *text, size_t len);
extern void def_node_append(DefDocument *doc, DefNode *container,
							DefNode *key, DefNode *value);

#endif							/* MODELFLAGS_DEFINITIONS_H */
