/* SPDX-License-Identifier: ISC */
/* chat.c: a bounded, thread-safe ring of the newest chat messages. */
#include <errno.h>
#include <unistd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"

struct slot {
	uint64_t	seq;
	int64_t		time;
	char		name[BART_NAME_MAX + 1];
	char		host[BART_HOST_MAX + 1];
	char		text[BART_TEXT_MAX + 1];
};

struct chat_ring {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct slot	*slots;
	unsigned int	 cap;
	uint64_t	 newest;	/* 0: empty */
	uint64_t	 oldest;	/* oldest seq still held */
	int		 watchfd;	/* eventfd poked on append, or -1 */
};

struct chat_ring *
chat_init(unsigned int cap)
{
	struct chat_ring	*r;
	pthread_condattr_t	 ca;

	if (cap == 0 || (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->slots = calloc(cap, sizeof(*r->slots))) == NULL) {
		free(r);
		return NULL;
	}
	r->cap = cap;
	r->watchfd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

void
chat_exit(struct chat_ring *r)
{
	if (r == NULL)
		return;
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

static void
copy_str(char *dst, size_t len, const char *src)
{
	strncpy(dst, src, len - 1);
	dst[len - 1] = '\0';
}

/*
 * Append a message; sequence numbers must arrive in increasing order.
 * A message that does not follow the newest one (a gap after restart)
 * restarts the ring, so the ring always holds a contiguous range.
 */
void
chat_append(struct chat_ring *r, uint64_t seq, int64_t when,
    const char *name, const char *host, const char *text)
{
	struct slot	*s;
	uint64_t	 one = 1;
	int		 fd;

	pthread_mutex_lock(&r->mu);
	/* Held already (a shared store feeds the ring from two places). */
	if (r->newest != 0 && seq <= r->newest) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	if (r->newest == 0 || seq != r->newest + 1)
		r->oldest = seq;
	s = &r->slots[seq % r->cap];
	s->seq = seq;
	s->time = when;
	copy_str(s->name, sizeof(s->name), name);
	copy_str(s->host, sizeof(s->host), host);
	copy_str(s->text, sizeof(s->text), text);
	r->newest = seq;
	if (r->newest - r->oldest + 1 > r->cap)
		r->oldest = r->newest - r->cap + 1;
	pthread_cond_broadcast(&r->cv);
	fd = r->watchfd;
	pthread_mutex_unlock(&r->mu);
	/* An eventfd never blocks a writer below 2^64 - 1 posts. */
	if (fd != -1 && write(fd, &one, sizeof(one)) == -1)
		return;
}

/*
 * Have chat_append poke FD (an eventfd, or -1 for none): the delivery
 * thread sleeps in epoll, not on the condition variable.
 */
void
chat_watch(struct chat_ring *r, int fd)
{
	pthread_mutex_lock(&r->mu);
	r->watchfd = fd;
	pthread_mutex_unlock(&r->mu);
}

uint64_t
chat_newest(struct chat_ring *r)
{
	uint64_t	v;

	pthread_mutex_lock(&r->mu);
	v = r->newest;
	pthread_mutex_unlock(&r->mu);
	return v;
}

uint64_t
chat_oldest(struct chat_ring *r)
{
	uint64_t	v;

	pthread_mutex_lock(&r->mu);
	v = r->oldest;
	pthread_mutex_unlock(&r->mu);
	return v;
}

static unsigned int
xdr_str_size(const char *s)
{
	return 4 + (((unsigned int)strlen(s) + 3) & ~3u);
}

/* Encoded XDR size of one chat_msg. */
size_t
chat_msg_size(const char *name, const char *host, const char *text)
{
	return 8 + 8 + xdr_str_size(name) + xdr_str_size(host) +
	    xdr_str_size(text);
}

/*
 * Copy up to MAX messages after AFTER into OUT (heap strings; free with
 * chat_msgs_free), stopping before BUDGET encoded bytes.  If AFTER is
 * older than the ring, the copy starts at the oldest message held and
 * the caller sees a gap in the numbers (clients fill it by CHAT_SINCE).
 */
int
chat_copy(struct chat_ring *r, uint64_t after, unsigned int max,
    size_t budget, chat_msg *out)
{
	struct slot	*s;
	uint64_t	 seq;
	size_t		 used = 0, sz;
	int		 n = 0;

	pthread_mutex_lock(&r->mu);
	/* Not after + 1 > newest: AFTER may be UINT64_MAX (client's). */
	if (r->newest == 0 || after >= r->newest) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	seq = after + 1;
	if (seq < r->oldest)
		seq = r->oldest;
	for (; seq <= r->newest && (unsigned int)n < max; seq++) {
		s = &r->slots[seq % r->cap];
		sz = chat_msg_size(s->name, s->host, s->text);
		if (n > 0 && used + sz > budget)
			break;
		out[n].seq = s->seq;
		out[n].time = s->time;
		out[n].name = strdup(s->name);
		out[n].host = strdup(s->host);
		out[n].text = strdup(s->text);
		if (!out[n].name || !out[n].host || !out[n].text) {
			chat_msgs_free(out, n + 1);
			n = -1;
			break;
		}
		used += sz;
		n++;
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}

void
chat_msgs_free(chat_msg *m, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].host);
		free(m[i].text);
		m[i].name = m[i].host = m[i].text = NULL;
	}
}

/*
 * Wait up to MS milliseconds until a message newer than AFTER exists or
 * *QUIT is set.  Returns 1 if there is something newer.
 */
int
chat_wait(struct chat_ring *r, uint64_t after, int ms, const atomic_int *quit)
{
	struct timespec	ts;
	int		rc = 0, more;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	while (r->newest <= after && !atomic_load(quit) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	more = r->newest > after;
	pthread_mutex_unlock(&r->mu);
	return more;
}

void
chat_wake(struct chat_ring *r)
{
	pthread_mutex_lock(&r->mu);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}
