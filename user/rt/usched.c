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

static void append(struct usched_task **head, struct usched_task **tail, struct usched_task *t)
{
	t->next = NULL;
	if (*tail)
		(*tail)->next = t;
	else
		*head = t;
	*tail = t;
}

void usched_submit(struct usched *s, struct usched_task *t)
{
	append(&s->head, &s->tail, t);
	s->queued++;
}

/* The next task: the main queue's head, else (USCHED_FB) the preempted queue's. */
static struct usched_task *pop(struct usched *s)
{
	struct usched_task **head = s->head ? &s->head : &s->bg_head;
	struct usched_task **tail = s->head ? &s->tail : &s->bg_tail;
	struct usched_task *t = *head;

	if (!t)
		return NULL;
	*head = t->next;
	if (!*head)
		*tail = NULL;
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
	if (s->policy == USCHED_FCFS || !s->queued)
		return t; /* runs on: FCFS, or nobody waits */
	t->preempted++;
	s->preemptions++;
	s->cur = NULL;
	if (s->policy == USCHED_FB) {
		append(&s->bg_head, &s->bg_tail, t);
		s->queued++;
	} else {
		usched_submit(s, t);
	}
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
