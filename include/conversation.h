/*
 * conversation: how a stateless OpenAI chat maps onto one Dify
 * conversation, without I/O.  A turn's digests (of the history before
 * the new user message, and of the whole history with the answer) are
 * the keys of the conversation store.
 */
#ifndef ODP_CONVERSATION_H
#define ODP_CONVERSATION_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "siphash.h"
#include "siphash_lanes.h"

#define CONVERSATION_DIGEST_LEN	SIPHASH_OUT_LEN	/* siphash_lanes */
#define CONVERSATION_MAX_ID	64	/* longest Dify id kept, NUL included */

/*
 * One request's view of its conversation.  hash is the state after
 * the whole request (scope, user and every message), waiting for the
 * answer; it holds nothing to free.
 */
struct conversation_turn {
	int			 lookup;	/* the history before may be known */
	int			 remember;	/* a complete answer may be kept */
	uint8_t			 prefix[CONVERSATION_DIGEST_LEN];
	struct siphash_lanes_state hash;	/* valid if remember */
};

/* The digest of an answer, fed as it streams. */
enum conversation_answer_state {
	CONVERSATION_ANSWER_FAILED,	/* not to be remembered */
	CONVERSATION_ANSWER_LEAD,	/* where the text starts is open */
	CONVERSATION_ANSWER_BODY	/* hashing; trailing blanks held */
};

/*
 * A hash fed through a small staging buffer: a call per field of a long
 * history (a tag, a length) or per word of a streamed answer costs more
 * than its bytes.  An answer's stage also holds its trailing blanks
 * until something follows them.  Every open stream carries one.
 */
#define CONVERSATION_STAGE	64

struct conversation_hash {
	struct siphash_lanes_state hash;
	size_t			 n;		/* staged bytes */
	unsigned char		 stage[CONVERSATION_STAGE];
};

struct conversation_answer {
	enum conversation_answer_state	 state;
	struct conversation_hash	 h;
	struct buf			 held;	/* the lead, or blanks */
	uint64_t			 len;	/* canonical bytes hashed */
	size_t				 max;	/* most bytes ever held */
};

void	 conversation_turn_init(struct conversation_turn *, const char *,
	    size_t, const char *, const void *);
int	 conversation_turn_answer(const struct conversation_turn *,
	    const char *, size_t, uint8_t *);
void	 conversation_turn_free(struct conversation_turn *);
int	 conversation_answer_begin(struct conversation_answer *,
	    const struct conversation_turn *, size_t);
void	 conversation_answer_feed(struct conversation_answer *, const char *,
	    size_t);
int	 conversation_answer_end(struct conversation_answer *, uint8_t *);
void	 conversation_answer_free(struct conversation_answer *);
int	 conversation_is_task_prompt(const void *);
void	 conversation_canonical_text(const char *, size_t, size_t *,
	    size_t *);
void	 conversation_digest_hex(const uint8_t *, char *);
int	 conversation_id_ok(const char *, size_t);

#endif
