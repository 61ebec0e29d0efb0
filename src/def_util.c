/*
 * def_util.c — the definitions parser's plumbing, used by every stage: the
 * arena a document's memory lives in, the growable output buffer of the
 * writers, UTF-8 decoding and the quoting of values in messages.
 *
 * Pipeline (definitions_int.h): parse -> read -> tree -> bind -> check
 * references -> rows / write.  This file is no stage; it has no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

#define ARENA_CHUNK			(64 * 1024)
#define ARENA_MAX_TOTAL		((size_t) 256 * 1024 * 1024)
#define QUOTE_MAX			64	/* bytes of a value quoted in a message */

/* ----------------------------------------------------------------------
 * Arena
 * ---------------------------------------------------------------------- */

/* Allocates size bytes (16-aligned, zeroed); NULL when out of memory. */
void *
arena_alloc(DefArena *a, size_t size)
{
	DefChunk   *c;
	char	   *p;

	if (size > ARENA_MAX_TOTAL)
		return NULL;
	size = (size + 15) & ~(size_t) 15;
	if (size == 0)
		size = 16;
	c = a->head;
	if (c == NULL || c->size - c->used < size)
	{
		size_t		csize = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;

		if (a->total + csize > ARENA_MAX_TOTAL)
			return NULL;
		c = malloc(sizeof(DefChunk) + csize);
		if (c == NULL)
			return NULL;
		c->size = csize;
		c->used = 0;
		a->total += csize;
		if (csize != ARENA_CHUNK || a->head == NULL)
		{
			/* A big block: keep the current chunk in front for small ones. */
			if (a->head == NULL)
			{
				c->next = NULL;
				a->head = c;
			}
			else
			{
				c->next = a->head->next;
				a->head->next = c;
			}
		}
		else
		{
			c->next = a->head;
			a->head = c;
		}
	}
	p = (char *) (c + 1) + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void
arena_destroy(DefArena *a)
{
	DefChunk   *c = a->head;

	while (c != NULL)
	{
		DefChunk   *next = c->next;

		free(c);
		c = next;
	}
	free(a);
}

/* ----------------------------------------------------------------------
 * Growable output buffer (malloc'd; its data is handed to the caller)
 * ---------------------------------------------------------------------- */

void
buf_put(Buf *b, const char *s, size_t n)
{
	if (b->oom || b->over)
		return;
	if (b->max && n > b->max - b->len)
	{
		b->over = true;			/* stop: the caller reports the limit */
		return;
	}
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *d;

		while (cap < b->len + n + 1)
		{
			if (cap > ((size_t) 1 << 40))
			{
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		if (b->max && cap > b->max + 1)
			cap = b->max + 1;	/* never more than the limit allows */
		d = realloc(b->data, cap);
		if (d == NULL)
		{
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void
buf_putc(Buf *b, char c)
{
	buf_put(b, &c, 1);
}

void
buf_spaces(Buf *b, int n)
{
	static const char spaces[] = "                                                                ";

	while (n > 0)
	{
		int			k = n > 64 ? 64 : n;

		buf_put(b, spaces, k);
		n -= k;
	}
}

/*
 * Returns the buffer's string (caller frees), or NULL if anything failed
 * (b->over tells a buffer that reached b->max from one out of memory).
 */
char *
buf_finish(Buf *b, size_t *len)
{
	if (!b->oom && !b->over && b->data == NULL)
		buf_put(b, "", 0);
	if (b->oom || b->over)
	{
		free(b->data);
		return NULL;
	}
	if (len)
		*len = b->len;
	return b->data;
}

/* ----------------------------------------------------------------------
 * UTF-8
 * ---------------------------------------------------------------------- */

/*
 * Decodes one UTF-8 character at s[0..len); returns its length, or 0 if the
 * bytes are not valid UTF-8 (overlong forms, surrogates and code points past
 * U+10FFFF included).
 */
int
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	int			n;
	uint32_t	v;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	else if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		v = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		v = c & 0x07;
	}
	else
		return 0;
	if ((size_t) n > len)
		return 0;
	for (int i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
		(v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* Is s[0..len) valid UTF-8? */
bool
utf8_valid(const char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		uint32_t	cp;
		int			n;

		if ((unsigned char) s[i] < 0x80)
		{
			i++;
			continue;
		}
		n = utf8_decode((const unsigned char *) s + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Line and column (1-based, columns in characters) of byte offset off. */
void
offset_position(const char *s, size_t len, size_t off, int *line, int *column)
{
	int			l = 1,
				c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++)
	{
		if (s[i] == '\n')
		{
			l++;
			c = 1;
		}
		else if (((unsigned char) s[i] & 0xC0) != 0x80)
			c++;
	}
	*line = l;
	*column = c;
}

/* ----------------------------------------------------------------------
 * Quoting values for messages
 * ---------------------------------------------------------------------- */

/*
 * Writes s as a double-quoted string for a message: at most QUOTE_MAX bytes
 * (cut at a character boundary, then '..." (N bytes)'), control characters
 * escaped so that a message stays on one line.
 */
void
quote_into(Buf *b, const char *s, size_t len)
{
	size_t		n = len;
	char		tmp[8];

	if (s == NULL)
	{
		buf_puts(b, "null");
		return;
	}
	if (n > QUOTE_MAX)
	{
		n = QUOTE_MAX;
		while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
			n--;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			buf_putc(b, '\\');
			buf_putc(b, (char) c);
		}
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7F)
		{
			snprintf(tmp, sizeof(tmp), "\\x%02X", c);
			buf_puts(b, tmp);
		}
		else
			buf_putc(b, (char) c);
	}
	if (n < len)
	{
		snprintf(tmp, sizeof(tmp), "...\"");
		buf_puts(b, tmp);
		{
			char		num[48];

			snprintf(num, sizeof(num), " (%zu bytes)", len);
			buf_puts(b, num);
		}
	}
	else
		buf_putc(b, '"');
}
