/* SPDX-License-Identifier: ISC */
/* stats.c: latency samples, percentiles, and the SVG histogram. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void
samples_init(struct samples *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap > 0 ? cap : 16;
	if ((s->v = calloc(s->cap, sizeof(double))) == NULL)
		die("out of memory");
}

void
samples_add(struct samples *s, double us)
{
	double	*nv;

	if (s->n == s->cap) {
		if ((nv = realloc(s->v, 2 * s->cap * sizeof(double))) == NULL)
			die("out of memory");
		s->v = nv;
		s->cap *= 2;
	}
	s->v[s->n++] = us;
	s->sorted = 0;
}

void
samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of V (sorted in place). */
double
pct_of(double *v, size_t n, double pct)
{
	size_t	i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), cmp_double);
	i = (size_t)ceil(pct / 100.0 * (double)n);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return v[i];
}

double
samples_pct(struct samples *s, double pct)
{
	size_t	i;

	if (s->n == 0)
		return 0;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(double), cmp_double);
		s->sorted = 1;
	}
	i = (size_t)ceil(pct / 100.0 * (double)s->n);
	if (i > 0)
		i--;
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i];
}

void
samples_sum(struct samples *s, struct summary *m)
{
	double	sum = 0;
	size_t	i;

	memset(m, 0, sizeof(*m));
	m->n = s->n;
	if (s->n == 0)
		return;
	for (i = 0; i < s->n; i++)
		sum += s->v[i];
	m->mean = sum / (double)s->n;
	m->p50 = samples_pct(s, 50);
	m->p90 = samples_pct(s, 90);
	m->p99 = samples_pct(s, 99);
	m->p999 = samples_pct(s, 99.9);
	m->max = s->v[s->n - 1];
}

/* ---- SVG: one panel per transport, log-x histograms overlaid. ---- */

#define PANEL_W		760
#define PANEL_H		220
#define BINS		80
#define X_MIN_US	5.0
#define X_MAX_US	5000.0

struct svg {
	FILE	*f;
	int	 panel;
};

static const char *const colours[] = { "#1f77b4", "#d62728", "#2ca02c",
    "#9467bd" };

struct svg *
svg_open(const char *path, int panels)
{
	struct svg	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((g->f = fopen(path, "w")) == NULL) {
		free(g);
		return NULL;
	}
	fprintf(g->f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' "
	    "height='%d' font-family='sans-serif' font-size='12'>\n"
	    "<rect width='100%%' height='100%%' fill='white'/>\n",
	    PANEL_W + 20, panels * (PANEL_H + 40) + 10);
	return g;
}

static double
xpos(double us)
{
	double	l = log10(us < X_MIN_US ? X_MIN_US : us > X_MAX_US ?
	    X_MAX_US : us);

	return 60 + (l - log10(X_MIN_US)) / (log10(X_MAX_US) -
	    log10(X_MIN_US)) * (PANEL_W - 80);
}

/* One panel: the share of calls per latency bin, one line per series. */
void
svg_panel(struct svg *g, const char *title, struct samples **ss,
    const char **names, int n)
{
	double	hist[4][BINS], top = 0, lo = log10(X_MIN_US), w, x, y;
	int	oy = 10 + g->panel * (PANEL_H + 40), i, b;
	size_t	k;
	static const double ticks[] = { 5, 10, 20, 50, 100, 200, 500, 1000,
	    2000, 5000 };

	if (g == NULL)
		return;
	w = (log10(X_MAX_US) - lo) / BINS;
	memset(hist, 0, sizeof(hist));
	for (i = 0; i < n && i < 4; i++) {
		for (k = 0; k < ss[i]->n; k++) {
			b = (int)((log10(ss[i]->v[k] < X_MIN_US ? X_MIN_US :
			    ss[i]->v[k]) - lo) / w);
			if (b >= BINS)
				b = BINS - 1;
			hist[i][b] += 1.0 / (double)ss[i]->n;
		}
		for (b = 0; b < BINS; b++)
			if (hist[i][b] > top)
				top = hist[i][b];
	}
	if (top <= 0)
		top = 1;
	fprintf(g->f, "<text x='60' y='%d' font-weight='bold'>%s</text>\n",
	    oy + 12, title);
	fprintf(g->f, "<line x1='60' y1='%d' x2='%d' y2='%d' stroke='black'/>"
	    "\n", oy + PANEL_H, PANEL_W - 20, oy + PANEL_H);
	for (k = 0; k < sizeof(ticks) / sizeof(ticks[0]); k++) {
		x = xpos(ticks[k]);
		fprintf(g->f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' "
		    "stroke='#ccc'/><text x='%.1f' y='%d' "
		    "text-anchor='middle'>%g</text>\n", x, oy + 20, x,
		    oy + PANEL_H, x, oy + PANEL_H + 14, ticks[k]);
	}
	fprintf(g->f, "<text x='%d' y='%d' text-anchor='end'>latency, us "
	    "(log scale); height: share of calls</text>\n", PANEL_W - 20,
	    oy + PANEL_H + 28);
	for (i = 0; i < n && i < 4; i++) {
		fprintf(g->f, "<polyline fill='none' stroke='%s' "
		    "stroke-width='1.5' points='", colours[i]);
		for (b = 0; b < BINS; b++) {
			x = 60 + (b + 0.5) / BINS * (PANEL_W - 80);
			y = oy + PANEL_H - hist[i][b] / top * (PANEL_H - 30);
			fprintf(g->f, "%.1f,%.1f ", x, y);
		}
		fprintf(g->f, "'/>\n<text x='%d' y='%d' fill='%s'>%s (p50 "
		    "%.1f us)</text>\n", PANEL_W - 250, oy + 30 + 16 * i,
		    colours[i], names[i], samples_pct(ss[i], 50));
	}
	g->panel++;
}

void
svg_close(struct svg *g)
{
	if (g == NULL)
		return;
	fprintf(g->f, "</svg>\n");
	fclose(g->f);
	free(g);
}
