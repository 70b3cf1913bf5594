/* SPDX-License-Identifier: ISC */
/*
 * json.c: bart_clnt's JSON output.  Strings are the server's bytes
 * exactly: valid UTF-8 passes through, control characters (C0, DEL, C1)
 * become \uXXXX, and a byte that is not valid UTF-8 becomes \udcXX, a
 * lone surrogate in the PEP 383 manner (Python's "surrogateescape"), so
 * the stored bytes can be recovered and no output is ever invalid UTF-8.
 * Times are UTC, ISO 8601: 2026-12-01T19:43:56Z.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at P and its code point; 0: none. */
static size_t
utf8_len(const unsigned char *p, uint32_t *cp)
{
	size_t	n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	*cp = p[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && *cp < 0x800) || (n == 4 && *cp < 0x10000) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff)
		return 0;
	return n;
}

/* S as the inside of a JSON string into BUF; its length, -1: no room. */
int
json_escape(const char *s, char *buf, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n, o = 0;
	char			 esc[8];
	const char		*e;

	if (len == 0)
		return -1;
	for (; *p != '\0'; p += n) {
		e = NULL;
		if ((n = utf8_len(p, &cp)) == 0) {
			snprintf(esc, sizeof(esc), "\\udc%02x", *p);
			e = esc;
			n = 1;
		} else if (cp == '"')
			e = "\\\"";
		else if (cp == '\\')
			e = "\\\\";
		else if (cp == '\n')
			e = "\\n";
		else if (cp == '\t')
			e = "\\t";
		else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			e = esc;
		}
		if (e != NULL) {
			if (o + strlen(e) >= len)
				return -1;
			memcpy(buf + o, e, strlen(e));
			o += strlen(e);
		} else {
			if (o + n >= len)
				return -1;
			memcpy(buf + o, p, n);
			o += n;
		}
	}
	buf[o] = '\0';
	return (int)o;
}

/* Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ"; -1 if impossible. */
int
json_time(int64_t t, char *buf, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/* "KEY":"VALUE" (with a comma in front unless FIRST). */
void
json_str(FILE *f, const char *key, const char *val, int first)
{
	char	buf[6 * 1100 + 1];

	if (json_escape(val, buf, sizeof(buf)) == -1)
		buf[0] = '\0';		/* cannot happen for bart's bounds */
	fprintf(f, "%s\"%s\":\"%s\"", first ? "" : ",", key, buf);
}

/* One chat message as one line. */
void
json_msg(FILE *f, const struct bart_msg *m)
{
	char	when[32];

	if (json_time(m->time, when, sizeof(when)) == -1)
		snprintf(when, sizeof(when), "%" PRId64, m->time);
	fprintf(f, "{\"seq\":%" PRIu64 ",\"time\":\"%s\"", m->seq, when);
	json_str(f, "host", m->host, 0);
	json_str(f, "name", m->name, 0);
	json_str(f, "text", m->text, 0);
	fputs("}\n", f);
}
