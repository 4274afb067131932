/* The sorted timer queue of the timed waits (include/kernel/timeq.h). */
#include <kernel/timeq.h>

void timeq_insert(struct timeq *q, struct timeq_node *n, uint64_t when)
{
	struct timeq_node *after = q->tail; /* n goes after this one (NULL: at the head) */

	while (after && after->when > when)
		after = after->prev;
	n->when = when;
	n->prev = after;
	n->next = after ? after->next : q->head;
	if (n->next)
		n->next->prev = n;
	else
		q->tail = n;
	if (after)
		after->next = n;
	else
		q->head = n;
	n->queued = true;
	q->count++;
}

void timeq_remove(struct timeq *q, struct timeq_node *n)
{
	if (!n->queued)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		q->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		q->tail = n->prev;
	n->next = n->prev = NULL;
	n->queued = false;
	q->count--;
}

struct timeq_node *timeq_pop_due(struct timeq *q, uint64_t now)
{
	struct timeq_node *n = q->head;

	if (!n || n->when > now)
		return NULL;
	timeq_remove(q, n);
	return n;
}
