/*
 * prom_text: a strict parser of Prometheus text format 0.0.4, for tests.
 */
#ifndef PROM_TEXT_H
#define PROM_TEXT_H

#include <stddef.h>

#define PROM_MAX_LABELS	8

struct prom_sample {
	char	*name;
	int	 nlabels;
	char	*lname[PROM_MAX_LABELS];
	char	*lvalue[PROM_MAX_LABELS];	/* unescaped */
	double	 value;
};

struct prom_doc {
	struct prom_sample	*v;
	size_t			 n;
};

int	 prom_parse(const char *, struct prom_doc *, char *, size_t);
double	 prom_sum(const struct prom_doc *, const char *, const char *);
size_t	 prom_count(const struct prom_doc *, const char *, const char *);
void	 prom_free(struct prom_doc *);

#endif
