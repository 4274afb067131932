/* Group coordinator state (private to group.c and group_api.c). */
#ifndef KGROUP_H
#define KGROUP_H
#include "broker_int.h"

#define KG_MAX_MEMBERS 64u
#define KG_MAX_PROTOS  4u
#define KG_NAME        64u

struct kproto {
	char name[KG_NAME];
	uint32_t nlen, mlen;
	uint8_t *meta;
};

/* Member ids are "<client.id>-<uuid>" as Kafka makes them (the client
 * id cut to KG_NAME bytes). */
#define KG_ID_MAX (KG_NAME + 1 + 36)

struct kmember {
	char id[KG_ID_MAX];
	uint32_t idlen;
	char inst[KG_NAME]; /* group.instance.id of a static member (KIP-345) */
	uint32_t ilen;      /* 0: dynamic member */
	int32_t session_ms, rebalance_ms;
	uint64_t last_seen;
	struct kproto protos[KG_MAX_PROTOS];
	uint32_t nprotos;
	struct kresp *join, *sync; /* parked responses, cleared if they die */
	int16_t join_ver, sync_ver;
	uint8_t *assign;
	uint32_t alen;
	bool rejoined;
	char client[KG_NAME]; /* client id of its last JoinGroup (cut) */
	uint32_t clen;
};

enum gstate { G_EMPTY, G_PREPARING, G_COMPLETING, G_STABLE };

/* Kafka's offset.metadata.max.bytes default; longer metadata is refused
 * with OFFSET_METADATA_TOO_LARGE. */
#define KG_META_MAX 4096u

struct koff {
	uint32_t topic, part;
	int64_t off;
	char *meta; /* commit metadata, meta_len bytes (NULL when empty) */
	uint32_t meta_len;
};

struct kgroup {
	struct kgroup *next;
	char id[256];
	uint32_t idlen;
	enum gstate state;
	int32_t gen;
	char ptype[KG_NAME];
	uint32_t ptlen;
	char proto[KG_NAME];
	uint32_t plen;
	struct kmember *m[KG_MAX_MEMBERS];
	uint32_t n;
	int32_t leader;
	uint64_t min_complete, deadline;
	uint32_t member_seq;
	struct koff *offs;
	uint32_t noffs, offs_cap;
};

struct kgroup *group_find(struct broker *b, const struct kstr *id, bool create);
int group_member(const struct kgroup *g, const struct kstr *id);
void group_remove(struct broker *b, struct kgroup *g, uint32_t i, int16_t err);
void group_rebalance(struct broker *b, struct kgroup *g, uint64_t now);
void group_join_error(struct broker *b, struct kresp *r, int16_t ver, int16_t err,
                      const struct kmember *m);
void group_sync_reply(struct broker *b, const struct kgroup *g, struct kmember *m, int16_t err);
int group_check_member(struct kgroup *g, const struct kstr *mid, int32_t gen);
/* Static membership: the member holding instance id inst, or -1; and the
 * fencing check of a request naming both (FENCED_INSTANCE_ID when inst
 * belongs to another member id). */
int group_member_ptr(const struct kgroup *g, const struct kmember *m);
void group_join_reply(struct broker *b, struct kgroup *g, uint32_t i);
int group_instance(const struct kgroup *g, const struct kstr *inst);
int16_t group_check_instance(const struct kgroup *g, const struct kstr *mid,
                             const struct kstr *inst);
void group_offs_free(struct broker *b, struct kgroup *g);

#endif
