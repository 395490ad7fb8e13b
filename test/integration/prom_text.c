/*
 * prom_text: a strict parser of Prometheus text format 0.0.4, for tests.
 *
 * Every line must be a # HELP, a # TYPE or a sample; names and label
 * names must be well formed, label values quoted with only \\, \" and \n
 * escapes, values numbers.  A sample's family needs a TYPE line before
 * it, and a family has at most one TYPE and one HELP.  For histograms
 * every series must have buckets with increasing le, non-decreasing
 * counts, a +Inf bucket equal to its _count, and a _sum.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_text.h"

struct prom_family {
	char	name[128];
	char	type[32];
	int	help;
};

/* True for a metric name character (first: no digit). */
static int
prom_name_char(int c, int first, int colon)
{
	return (isalpha(c) || c == '_' || (colon && c == ':') ||
	    (!first && isdigit(c)));
}

/* Read a name at *p into out; returns 0 or -1. */
static int
prom_name(const char **p, char *out, size_t size, int colon)
{
	size_t	n = 0;

	if (!prom_name_char((unsigned char)**p, 1, colon))
		return (-1);
	while (prom_name_char((unsigned char)**p, n == 0, colon)) {
		if (n + 1 >= size)
			return (-1);
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return (0);
}

/* Find or add a family. */
static struct prom_family *
prom_family(struct prom_family **fams, size_t *n, const char *name, int add)
{
	size_t	i;

	for (i = 0; i < *n; i++)
		if (strcmp((*fams)[i].name, name) == 0)
			return (&(*fams)[i]);
	if (!add)
		return (NULL);
	*fams = realloc(*fams, (*n + 1) * sizeof(**fams));
	memset(&(*fams)[*n], 0, sizeof(**fams));
	snprintf((*fams)[*n].name, sizeof((*fams)[*n].name), "%s", name);
	return (&(*fams)[(*n)++]);
}

/* The family of a sample name: histogram suffixes stripped if declared. */
static struct prom_family *
prom_family_of(struct prom_family *fams, size_t n, const char *name)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	char	base[128];
	size_t	i, l, k;

	for (i = 0; i < n; i++)
		if (strcmp(fams[i].name, name) == 0)
			return (&fams[i]);
	for (k = 0; k < 3; k++) {
		l = strlen(name);
		if (l > strlen(sfx[k]) &&
		    strcmp(name + l - strlen(sfx[k]), sfx[k]) == 0) {
			snprintf(base, sizeof(base), "%.*s",
			    (int)(l - strlen(sfx[k])), name);
			for (i = 0; i < n; i++)
				if (strcmp(fams[i].name, base) == 0 &&
				    strcmp(fams[i].type, "histogram") == 0)
					return (&fams[i]);
		}
	}
	return (NULL);
}

/* A label's value of a sample, or NULL. */
static const char *
prom_label(const struct prom_sample *s, const char *name)
{
	int	i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->lname[i], name) == 0)
			return (s->lvalue[i]);
	return (NULL);
}

/* True if a and b have the same labels but le. */
static int
prom_same_series(const struct prom_sample *a, const struct prom_sample *b)
{
	int	i, na = 0, nb = 0;
	const char *v;

	for (i = 0; i < a->nlabels; i++) {
		if (strcmp(a->lname[i], "le") == 0)
			continue;
		na++;
		if ((v = prom_label(b, a->lname[i])) == NULL ||
		    strcmp(v, a->lvalue[i]) != 0)
			return (0);
	}
	for (i = 0; i < b->nlabels; i++)
		nb += strcmp(b->lname[i], "le") != 0;
	return (na == nb);
}

/* Check every histogram series of a document. */
static int
prom_check_histograms(const struct prom_doc *d, struct prom_family *fams,
    size_t nf, char *err, size_t esize)
{
	char		 name[160];
	size_t		 f, i, j;
	double		 le, lastle, last, inf;
	int		 have_inf, have_sum, have_count;
	const char	*v;

	for (f = 0; f < nf; f++) {
		if (strcmp(fams[f].type, "histogram") != 0)
			continue;
		snprintf(name, sizeof(name), "%s_count", fams[f].name);
		for (i = 0; i < d->n; i++) {
			if (strcmp(d->v[i].name, name) != 0)
				continue;
			lastle = -INFINITY;
			last = 0;
			inf = -1;
			have_inf = have_sum = 0;
			have_count = 1;
			for (j = 0; j < d->n; j++) {
				const struct prom_sample *s = &d->v[j];

				if (!prom_same_series(&d->v[i], s))
					continue;
				if (strncmp(s->name, fams[f].name,
				    strlen(fams[f].name)) != 0)
					continue;
				if (strcmp(s->name + strlen(fams[f].name),
				    "_sum") == 0)
					have_sum = 1;
				if (strcmp(s->name + strlen(fams[f].name),
				    "_bucket") != 0)
					continue;
				if ((v = prom_label(s, "le")) == NULL) {
					snprintf(err, esize, "%s: bucket "
					    "without le", s->name);
					return (-1);
				}
				le = strcmp(v, "+Inf") == 0 ? INFINITY :
				    strtod(v, NULL);
				if (le <= lastle || s->value < last) {
					snprintf(err, esize, "%s: buckets not "
					    "increasing at le=%s", s->name, v);
					return (-1);
				}
				lastle = le;
				last = s->value;
				if (isinf(le)) {
					have_inf = 1;
					inf = s->value;
				}
			}
			if (!have_inf || !have_sum || !have_count ||
			    inf != d->v[i].value) {
				snprintf(err, esize, "%s: +Inf %g, _count %g, "
				    "_sum %d", fams[f].name, inf, d->v[i].value,
				    have_sum);
				return (-1);
			}
		}
	}
	return (0);
}

/* Parse one sample line into s.  Returns 0 or -1. */
static int
prom_sample_line(const char *p, struct prom_sample *s)
{
	char	 name[128], *end;
	size_t	 cap, n;
	char	*val;

	memset(s, 0, sizeof(*s));
	if (prom_name(&p, name, sizeof(name), 1) != 0)
		return (-1);
	s->name = strdup(name);
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (s->nlabels == PROM_MAX_LABELS ||
			    prom_name(&p, name, sizeof(name), 0) != 0 ||
			    *p++ != '=' || *p++ != '"')
				return (-1);
			cap = strlen(p) + 1;
			val = malloc(cap);
			for (n = 0; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n') {
					free(val);
					return (-1);
				}
				if (*p == '\\') {
					p++;
					if (*p == 'n')
						val[n++] = '\n';
					else if (*p == '\\' || *p == '"')
						val[n++] = *p;
					else {
						free(val);
						return (-1);
					}
				} else
					val[n++] = *p;
			}
			val[n] = '\0';
			p++;
			s->lname[s->nlabels] = strdup(name);
			s->lvalue[s->nlabels++] = val;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return (-1);
		}
		p++;
	}
	if (*p++ != ' ')
		return (-1);
	if (strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0 ||
	    strcmp(p, "NaN") == 0)
		return (0);
	s->value = strtod(p, &end);
	if (end == p || *end != '\0')
		return (-1);
	return (0);
}

/* Parse text strictly into d.  Returns 0, or -1 with err. */
int
prom_parse(const char *text, struct prom_doc *d, char *err, size_t esize)
{
	struct prom_family	*fams = NULL, *f;
	size_t			 nf = 0, lineno = 0, len;
	const char		*p = text, *nl, *q;
	char			 line[4096], name[128], type[32];
	int			 rc = -1;

	memset(d, 0, sizeof(*d));
	while (*p != '\0') {
		lineno++;
		if ((nl = strchr(p, '\n')) == NULL) {
			snprintf(err, esize, "line %zu: no newline", lineno);
			goto done;
		}
		len = (size_t)(nl - p);
		if (len >= sizeof(line)) {
			snprintf(err, esize, "line %zu: too long", lineno);
			goto done;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0 ||
		    strncmp(line, "# TYPE ", 7) == 0) {
			q = line + 7;
			if (prom_name(&q, name, sizeof(name), 1) != 0 ||
			    *q++ != ' ') {
				snprintf(err, esize, "line %zu: bad %s", lineno,
				    line);
				goto done;
			}
			f = prom_family(&fams, &nf, name, 1);
			if (line[2] == 'H') {
				if (f->help++) {
					snprintf(err, esize, "line %zu: second "
					    "HELP for %s", lineno, name);
					goto done;
				}
				continue;
			}
			snprintf(type, sizeof(type), "%s", q);
			if (f->type[0] != '\0' || (strcmp(type, "counter") &&
			    strcmp(type, "gauge") && strcmp(type, "histogram") &&
			    strcmp(type, "summary") && strcmp(type, "untyped"))) {
				snprintf(err, esize, "line %zu: bad or second "
				    "TYPE %s", lineno, line);
				goto done;
			}
			snprintf(f->type, sizeof(f->type), "%s", type);
			continue;
		}
		if (line[0] == '#') {
			snprintf(err, esize, "line %zu: stray comment", lineno);
			goto done;
		}
		d->v = realloc(d->v, (d->n + 1) * sizeof(*d->v));
		if (prom_sample_line(line, &d->v[d->n]) != 0) {
			d->n++;
			snprintf(err, esize, "line %zu: bad sample: %s", lineno,
			    line);
			goto done;
		}
		d->n++;
		if ((f = prom_family_of(fams, nf, d->v[d->n - 1].name)) ==
		    NULL || f->type[0] == '\0') {
			snprintf(err, esize, "line %zu: %s has no TYPE before it",
			    lineno, d->v[d->n - 1].name);
			goto done;
		}
	}
	rc = prom_check_histograms(d, fams, nf, err, esize);
done:
	free(fams);
	return (rc);
}

/* True if s has every label of match ("a=x,b=y"; "" matches all). */
static int
prom_matches(const struct prom_sample *s, const char *match)
{
	char		 copy[512], *tok, *save, *eq;
	const char	*v;

	snprintf(copy, sizeof(copy), "%s", match);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			return (0);
		*eq = '\0';
		if ((v = prom_label(s, tok)) == NULL || strcmp(v, eq + 1) != 0)
			return (0);
	}
	return (1);
}

/* The sum of the samples named name whose labels match. */
double
prom_sum(const struct prom_doc *d, const char *name, const char *match)
{
	double	sum = 0;
	size_t	i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i].name, name) == 0 &&
		    prom_matches(&d->v[i], match))
			sum += d->v[i].value;
	return (sum);
}

/* How many samples named name match. */
size_t
prom_count(const struct prom_doc *d, const char *name, const char *match)
{
	size_t	i, n = 0;

	for (i = 0; i < d->n; i++)
		n += strcmp(d->v[i].name, name) == 0 &&
		    prom_matches(&d->v[i], match);
	return (n);
}

/* Free a document. */
void
prom_free(struct prom_doc *d)
{
	size_t	i;
	int	j;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].name);
		for (j = 0; j < d->v[i].nlabels; j++) {
			free(d->v[i].lname[j]);
			free(d->v[i].lvalue[j]);
		}
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
