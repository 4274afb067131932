/*
 * A user-level scheduler (user/rt/usched.c: policies, host-tested;
 * user/rt/usched_run.c: running tasks as user contexts under preemption
 * upcalls, ring 3 only). docs/scheduling.md, "The user-level scheduler".
 *
 * Tasks wait in one FIFO run queue. The policy decides what a preemption
 * upcall does to the running task:
 *   USCHED_FCFS  first come, first served: the running task keeps the CPU
 *                until it finishes (an upcall only lets new arrivals in);
 *   USCHED_PS    processor sharing, as Shinjuku approximates it: the
 *                running task goes to the back of the queue and the head
 *                runs, so every task gets one quantum in turn.
 *   USCHED_FB    foreground first (two-level least attained service): as
 *                PS, but a preempted task waits in a second queue behind
 *                every task that has not run yet, so a new short request
 *                never waits for a long one's quantum; the preempted
 *                tasks share what is left in turn.
 * Everything here is single-threaded: one kernel thread runs a scheduler.
 */
#ifndef HALLOWS_USCHED_H
#define HALLOWS_USCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <hallows/uctx.h>

enum usched_policy { USCHED_FCFS = 0, USCHED_PS = 1, USCHED_FB = 2 };

struct usched_task {
	struct usched_task *next; /* run-queue link */
	void (*fn)(void *arg);    /* the work; returning ends the task */
	void *arg;
	void *stack_top;    /* its stack (ring 3 only) */
	bool started;       /* ctx holds a context to resume */
	uint32_t preempted; /* times an upcall took the CPU from it */
	struct uctx ctx;    /* where it stopped (ring 3 only) */
};

struct usched {
	enum usched_policy policy;
	struct usched_task *head, *tail;       /* ready, in order */
	struct usched_task *bg_head, *bg_tail; /* USCHED_FB: preempted, in order, after head's */
	struct usched_task *cur;               /* running, or NULL */
	uint32_t queued;                       /* in both queues */
	uint64_t preemptions, completions;
};

void usched_init(struct usched *s, enum usched_policy policy);
/* A new task joins the back of the queue. */
void usched_submit(struct usched *s, struct usched_task *t);
/* Nothing runs: the head of the queue becomes cur (NULL if the queue is empty). */
struct usched_task *usched_pick(struct usched *s);
/* An upcall interrupted cur: per the policy, cur runs on or yields to the head. Returns the new
 * cur. */
struct usched_task *usched_preempted(struct usched *s);
/* cur finished: nothing runs until usched_pick. Returns the finished task. */
struct usched_task *usched_done(struct usched *s);

/* ---- ring 3 (usched_run.c) ---- */

/*
 * Run s on the calling thread (tcb) under upcalls every quantum_ns (0: no
 * upcalls; FCFS needs none) until idle() returns false. The upcall page and
 * its frame capability come from the caller, as for rt_upcall_attach; the
 * scheduler runs on the stack ending at stack_top. idle(s, arg) is called
 * whenever the scheduler runs (after an upcall, after a task ends, and in a
 * loop while no task is ready): it submits new tasks. Returns the error of
 * thread.set_upcall, or 0 once idle() returned false.
 */
long usched_run(struct usched *s, hl_cptr_t tcb, hl_cptr_t frame, struct rt_upcall_page *page,
                void *stack_top, uint64_t quantum_ns, bool (*idle)(struct usched *s, void *arg),
                void *arg);

#endif
