/*
 * def_read_yaml.c — reads YAML text into the node tree through libyaml's
 * event API: one event at a time, no recursion, scalars resolved as YAML
 * 1.1 does (null, booleans, ints with bases and underscores, floats),
 * aliases shared rather than copied and counted against
 * DEF_MAX_ALIAS_NODES; what has no JSON equivalent is refused.
 *
 * Pipeline (definitions_int.h): stage 2 for YAML: def_parse.c calls
 * read_yaml; the tree goes to bind_document (def_bind.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * YAML
 * ---------------------------------------------------------------------- */

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/*
 * Makes the node of a scalar: resolves plain scalars as YAML 1.1 does
 * (null, booleans, ints with underscores and bases, floats), honours the
 * standard tags, and refuses what has no JSON equivalent.
 */
static DefNode *
yaml_scalar(Parser *P, const yaml_event_t *ev)
{
	const char *s = (const char *) ev->data.scalar.value;
	size_t		len = ev->data.scalar.length;
	const char *tag = (const char *) ev->data.scalar.tag;
	int			line = (int) ev->start_mark.line + 1;
	int			column = (int) ev->start_mark.column + 1;
	bool		plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	const char *want = NULL;	/* the type a tag asks for */
	DefNode    *n;
	char	   *num;

	if (memchr(s, '\0', len))
		fail(P, DEF_ERR_ENCODING, line, column, NULL,
			 "NUL characters are not allowed in definitions");
	if (!utf8_valid(s, len))
		fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid UTF-8 in a YAML scalar");
	if (len > UINT32_MAX - 1)
		fail(P, DEF_ERR_LIMIT, line, column, NULL, "scalar is too long");

	if (tag && strcmp(tag, "!") != 0)
	{
		if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0)
			want = tag + strlen(YAML_TAG_PREFIX);
		if (want == NULL || !(strcmp(want, "str") == 0 || strcmp(want, "int") == 0 ||
							  strcmp(want, "float") == 0 || strcmp(want, "bool") == 0 ||
							  strcmp(want, "null") == 0))
			fail(P, DEF_ERR_UNSUPPORTED, line, column,
				 "Only the standard tags !!str, !!int, !!float, !!bool and !!null are supported.",
				 "unsupported YAML tag %s", pquote(P, tag, strlen(tag)));
	}
	else if (!plain || tag)
		want = "str";			/* quoted, literal, folded, or tagged "!" */

	n = new_node(P, DEF_NODE_STRING, line, column);
	if (want == NULL || strcmp(want, "null") == 0)
	{
		if (len == 0 || word_in(s, len, yaml_null))
		{
			n->kind = DEF_NODE_NULL;
			n->text = "null";
			n->len = 4;
			return n;
		}
		if (want)
			goto bad_tag;
	}
	if (want == NULL || strcmp(want, "bool") == 0)
	{
		if (word_in(s, len, yaml_true) || word_in(s, len, yaml_false))
		{
			n->kind = DEF_NODE_BOOL;
			n->text = word_in(s, len, yaml_true) ? "true" : "false";
			n->len = strlen(n->text);
			return n;
		}
		if (want)
			goto bad_tag;
	}
	if (want == NULL || strcmp(want, "int") == 0 || strcmp(want, "float") == 0)
	{
		if (word_in(s, len, yaml_special_float))
			fail(P, DEF_ERR_UNSUPPORTED, line, column,
				 "Quote it to make it a string.",
				 "YAML value %s has no JSON equivalent", pquote(P, s, len));
		if (yaml_sexagesimal(s, len))
			fail(P, DEF_ERR_UNSUPPORTED, line, column,
				 "Quote it to make it a string, or write the number in base 10.",
				 "YAML 1.1 sexagesimal number %s is not supported", pquote(P, s, len));
		{
			bool		overflow = false;

			num = yaml_int(P, s, len, &overflow);
			if (overflow)
				fail(P, DEF_ERR_VALUE, line, column, "Quote it to make it a string.",
					 "integer %s does not fit in 64 bits", pquote(P, s, len));
		}
		if (num == NULL && (want == NULL || strcmp(want, "float") == 0))
			num = yaml_float(P, s, len);
		else if (num && want && strcmp(want, "float") == 0)
		{
			/* !!float 3 is 3.0 */
			char	   *f = pzalloc(P, strlen(num) + 3);

			strcpy(f, num);
			strcat(f, ".0");
			num = f;
		}
		if (num)
		{
			/* any length: the text is kept exactly, as jsonb keeps numerics */
			n->kind = DEF_NODE_NUMBER;
			n->text = num;
			n->len = strlen(num);
			return n;
		}
		if (want)
			goto bad_tag;
	}
	n->kind = DEF_NODE_STRING;
	n->text = pstrndup(P, s, len);
	n->len = (uint32_t) len;
	return n;

bad_tag:
	fail(P, DEF_ERR_VALUE, line, column, NULL, "invalid !!%s value %s", want, pquote(P, s, len));
	return NULL;
}

/* Reports libyaml's error with its position and context. */
static void
yaml_fail(Parser *P)
{
	yaml_parser_t *yp = &P->yparser;
	int			line,
				column;
	char		context[160] = "";

	if (yp->error == YAML_MEMORY_ERROR)
		fail_memory(P);
	if (yp->error == YAML_READER_ERROR)
	{
		offset_position(P->text, P->len, yp->problem_offset, &line, &column);
		fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid YAML input: %s",
			 yp->problem ? yp->problem : "unreadable character");
	}
	line = (int) yp->problem_mark.line + 1;
	column = (int) yp->problem_mark.column + 1;
	if (yp->context)
		snprintf(context, sizeof(context), " (%s at %d:%d)", yp->context,
				 (int) yp->context_mark.line + 1, (int) yp->context_mark.column + 1);
	fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid YAML: %s%s",
		 yp->problem ? yp->problem : "syntax error", context);
}

/* Reads YAML text into the node tree, one libyaml event at a time. */
void
read_yaml(Parser *P)
{
	yaml_parser_t *yp = &P->yparser;
	bool		done = false;

	if (!yaml_parser_initialize(yp))
		fail_memory(P);
	P->yparser_live = true;
	yaml_parser_set_input_string(yp, (const unsigned char *) P->text, P->len);
	yaml_parser_set_encoding(yp, YAML_UTF8_ENCODING);

	while (!done)
	{
		yaml_event_t *ev = &P->yevent;
		int			line,
					column;
		const char *anchor = NULL;

		if (!yaml_parser_parse(yp, ev))
			yaml_fail(P);
		P->yevent_live = true;
		line = (int) ev->start_mark.line + 1;
		column = (int) ev->start_mark.column + 1;

		/*
		 * libyaml spends, on each token, time proportional to the flow
		 * collections open around it: a million nested [ would keep it busy
		 * for minutes.  Bound the sum (the writer counts it the same way).
		 */
		if (ev->type == YAML_SCALAR_EVENT || ev->type == YAML_ALIAS_EVENT ||
			ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT)
		{
			P->flow_work += (uint64_t) P->flow_depth;
			if (P->flow_work > DEF_MAX_YAML_FLOW_WORK)
				fail(P, DEF_ERR_LIMIT, line, column,
					 "The nesting of [...] and {...}, summed over the values inside them, is at most 200000000 (a chain about 20000 deep); block style and JSON have no such limit.",
					 "YAML flow collections nest too deeply");
		}

		switch (ev->type)
		{
			case YAML_STREAM_END_EVENT:
				done = true;
				break;
			case YAML_DOCUMENT_START_EVENT:
				if (++P->documents > 1)
					fail(P, DEF_ERR_UNSUPPORTED, line, column,
						 "Put each document in its own file or call.",
						 "more than one YAML document in the input");
				break;
			case YAML_ALIAS_EVENT:
				{
					const char *name = (const char *) ev->data.alias.anchor;
					int32_t		idx;
					DefNode    *target;

					if (++P->aliases > DEF_MAX_ALIASES)
						fail(P, DEF_ERR_LIMIT, line, column, "The limit is 1000 aliases.",
							 "too many YAML aliases");
					if (P->anchors.slots == NULL ||
						!mf_strmap_get(&P->anchors, NS_ANCHOR, name, strlen(name), &idx))
						fail(P, DEF_ERR_SYNTAX, line, column, NULL,
							 "unknown YAML anchor %s", pquote(P, name, strlen(name)));
					target = P->anchor_nodes[idx];
					P->alias_nodes += target->nodes;
					if (P->alias_nodes > DEF_MAX_ALIAS_NODES || target->nodes > DEF_MAX_ALIAS_NODES)
						fail(P, DEF_ERR_LIMIT, line, column,
							 "Aliases may expand to at most 50000 nodes in all.",
							 "YAML aliases expand to too many nodes");
					P->nodes += target->nodes;
					if (P->nodes > DEF_MAX_NODES)
						fail(P, DEF_ERR_LIMIT, line, column, "The limit is 500000 nodes (values, keys and list items).",
							 "document has too many nodes");
					tree_add(P, target);
					break;
				}
			case YAML_SCALAR_EVENT:
				{
					DefNode    *n;
					Frame	   *f = P->depth ? &P->frames[P->depth - 1] : NULL;

					if (f && f->node->kind == DEF_NODE_OBJECT && f->pending_key == NULL &&
						ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
						ev->data.scalar.length == 2 && memcmp(ev->data.scalar.value, "<<", 2) == 0)
						fail(P, DEF_ERR_UNSUPPORTED, line, column,
							 "Repeat the keys, or use an alias for the whole value.",
							 "YAML merge keys (<<) are not supported");
					if (f && f->node->kind == DEF_NODE_OBJECT && f->pending_key == NULL)
					{
						/* keys are strings, whatever they look like */
						const char *s = (const char *) ev->data.scalar.value;
						size_t		len = ev->data.scalar.length;

						if (memchr(s, '\0', len))
							fail(P, DEF_ERR_ENCODING, line, column, NULL,
								 "NUL characters are not allowed in definitions");
						if (!utf8_valid(s, len))
							fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid UTF-8 in a YAML key");
						if (len > UINT32_MAX - 1)
							fail(P, DEF_ERR_LIMIT, line, column, NULL, "key is too long");
						n = new_node(P, DEF_NODE_STRING, line, column);
						n->text = pstrndup(P, s, len);
						n->len = (uint32_t) len;
						if (ev->data.scalar.tag && strcmp((const char *) ev->data.scalar.tag, "!") != 0 &&
							strcmp((const char *) ev->data.scalar.tag, YAML_TAG_PREFIX "str") != 0)
							fail(P, DEF_ERR_UNSUPPORTED, line, column, NULL,
								 "unsupported tag on a mapping key");
					}
					else
						n = yaml_scalar(P, ev);
					if (ev->data.scalar.anchor)
						register_anchor(P, pstrndup(P, (const char *) ev->data.scalar.anchor,
													strlen((const char *) ev->data.scalar.anchor)), n);
					tree_add(P, n);
					break;
				}
			case YAML_SEQUENCE_START_EVENT:
			case YAML_MAPPING_START_EVENT:
				{
					const char *tag = (const char *) (ev->type == YAML_SEQUENCE_START_EVENT ?
													  ev->data.sequence_start.tag : ev->data.mapping_start.tag);
					const unsigned char *a = ev->type == YAML_SEQUENCE_START_EVENT ?
					ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;

					if (tag && strcmp(tag, "!") != 0 &&
						strcmp(tag, ev->type == YAML_SEQUENCE_START_EVENT ?
							   YAML_TAG_PREFIX "seq" : YAML_TAG_PREFIX "map") != 0)
						fail(P, DEF_ERR_UNSUPPORTED, line, column,
							 "Only the standard tags !!map and !!seq are supported on collections.",
							 "unsupported YAML tag %s", pquote(P, tag, strlen(tag)));
					if (a)
						anchor = pstrndup(P, (const char *) a, strlen((const char *) a));
					tree_open(P, ev->type == YAML_SEQUENCE_START_EVENT ? DEF_NODE_ARRAY : DEF_NODE_OBJECT,
							  line, column, anchor);
					if (ev->type == YAML_SEQUENCE_START_EVENT ?
						ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE :
						ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE)
					{
						P->frames[P->depth - 1].flow = true;
						P->flow_depth++;
					}
					break;
				}
			case YAML_SEQUENCE_END_EVENT:
			case YAML_MAPPING_END_EVENT:
				if (P->frames[P->depth - 1].flow)
					P->flow_depth--;
				tree_close(P);
				break;
			default:
				break;
		}
		yaml_event_delete(ev);
		P->yevent_live = false;
	}
}
