/*
 * The user-level scheduler's policies (user/rt/include/hallows/usched.h):
 * a FIFO run queue and what an upcall does to the running task. Pure
 * logic, no system calls: also built for the host tests (tests/host/usched).
 */
#include <hallows/usched.h>
#include <stddef.h>

void usched_init(struct usched *s, enum usched_policy policy)
{
	*s = (struct usched){.policy = policy};
}

void usched_submit(struct usched *s, struct usched_task *t)
{
	t->next = NULL;
	if (s->tail)
		s->tail->next = t;
	else
		s->head = t;
	s->tail = t;
	s->queued++;
}

static struct usched_task *pop(struct usched *s)
{
	struct usched_task *t = s->head;

	if (!t)
		return NULL;
	s->head = t->next;
	if (!s->head)
		s->tail = NULL;
	t->next = NULL;
	s->queued--;
	return t;
}

struct usched_task *usched_pick(struct usched *s)
{
	if (!s->cur)
		s->cur = pop(s);
	return s->cur;
}

struct usched_task *usched_preempted(struct usched *s)
{
	struct usched_task *t = s->cur;

	if (!t)
		return usched_pick(s);
	if (s->policy == USCHED_FCFS || !s->head)
		return t; /* runs on: FCFS, or nobody waits */
	t->preempted++;
	s->preemptions++;
	s->cur = NULL;
	usched_submit(s, t);
	return usched_pick(s);
}

struct usched_task *usched_done(struct usched *s)
{
	struct usched_task *t = s->cur;

	s->cur = NULL;
	if (t)
		s->completions++;
	return t;
}
