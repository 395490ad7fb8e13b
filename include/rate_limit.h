/*
 * rate_limit: requests a minute and requests at once, per proxy key and
 * per app, counted in a table every worker of an instance shares.
 */
#ifndef ODP_RATE_LIMIT_H
#define ODP_RATE_LIMIT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Workers (of every generation, during a reload) counted apart. */
#define RATE_LIMIT_WORKERS	64
/* Rules one request is admitted under: its key and its app. */
#define RATE_LIMIT_RULES	2
/* Longest rule id ("key:NAME", "app:MODEL"), NUL included. */
#define RATE_LIMIT_MAX_ID	280

/* One limit a request must pass; a 0 limit counts but never refuses. */
struct rate_limit_rule {
	char		 id[RATE_LIMIT_MAX_ID];
	const char	*label;		/* for the 429: "key alice" */
	unsigned	 rpm;
	unsigned	 max_streams;
};

/* Which limit refused. */
enum rate_limit_kind {
	RATE_LIMIT_NONE,
	RATE_LIMIT_REQUESTS,
	RATE_LIMIT_STREAMS
};

/*
 * What admission said.  The request figures are the tightest requests
 * bucket's (for x-ratelimit-*-requests); limit 0: none applies.
 */
struct rate_limit_verdict {
	int			 allowed;
	enum rate_limit_kind	 kind;		/* what refused */
	int			 rule;		/* which rule refused, or -1 */
	unsigned		 limit;
	unsigned		 remaining;
	uint64_t		 reset_ms;	/* until the bucket is full */
	uint64_t		 retry_ms;	/* refused: wait this long */
};

/* What an admitted request holds until it ends (rate_limit_release). */
struct rate_limit_lease {
	uint32_t	 entry[RATE_LIMIT_RULES];	/* index + 1; 0: none */
	int		 slot;
};

struct rate_limit;

struct rate_limit *rate_limit_new(size_t);
void	 rate_limit_free(struct rate_limit *);
int	 rate_limit_claim(struct rate_limit *, pid_t);
void	 rate_limit_admit(struct rate_limit *, int,
	    const struct rate_limit_rule *, size_t, uint64_t,
	    struct rate_limit_verdict *, struct rate_limit_lease *);
void	 rate_limit_release(struct rate_limit *, struct rate_limit_lease *);
unsigned rate_limit_streams(struct rate_limit *, const char *);
int	 rate_limit_bucket(double *, uint64_t *, unsigned, uint64_t, int,
	    unsigned *, uint64_t *, uint64_t *);
void	 rate_limit_reset_text(uint64_t, char *, size_t);

#endif
