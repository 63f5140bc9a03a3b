/* Shared layout between the kernel program (policy.bpf.c) and the control
 * plane (src/policy/layout.ts mirrors every struct here byte for byte).
 * Change one, change the other: the control plane checks the map sizes the
 * object declares against its own and refuses a mismatched object. */
#ifndef OTUS_POLICY_H
#define OTUS_POLICY_H

/* Rules are bit positions in bitmaps; 16384 rules = 256 words of 64 bits. */
#define POLICY_MAX_RULES 16384
#define POLICY_WORDS (POLICY_MAX_RULES / 64)
/* Two slots (0, 1): the control plane writes the inactive one, then flips. */
#define POLICY_SLOTS 2

enum policy_action {
	ACT_ALLOW = 0,
	ACT_DENY = 1,
	ACT_LOG = 2,
};

enum policy_event_type {
	EV_NEW_SESSION = 1,
	EV_DENY = 2,
	EV_LOG = 3,
};

/* cfg flags */
#define CFG_EVENTS_NEW_SESSION 0x1

/* The whole configuration is one 64-bit word so that a reader never sees
 * half of an update: gen (bits 0..31; its low bit is the active slot),
 * nwords (32..47), default action (48..55), flags (56..63). */
struct policy_cfg {
	__u64 word;
	/* Minimum interval between two DENY/LOG events of one session. */
	__u64 event_interval_ns;
};

/* Sessions are keyed by the canonical (ordered) 5-tuple so both directions
 * of a flow find the same entry with one lookup. */
struct sess_key {
	__u32 a_ip;
	__u32 b_ip;
	__u16 a_port;
	__u16 b_port;
	__u8 proto;
	__u8 pad[3];
};

struct sess_val {
	__u64 first_ns;
	__u64 last_ns;
	__u64 packets;
	__u64 bytes;
	__u64 last_event_ns;
	__u32 gen;      /* policy generation the decision was made under */
	__u32 rule;     /* rule index in that generation, NO_RULE for the default */
	__u8 action;
	__u8 init_is_a; /* the initiator is the key's a side */
	__u8 pad[6];
};

#define NO_RULE 0xffffffffu

/* LPM keys: 32 bits of slot, then the address; prefixlen counts both. */
struct lpm_key {
	__u32 prefixlen;
	__u32 slot;
	__u32 addr;
};

struct bitmap {
	__u64 w[POLICY_WORDS];
};

struct policy_stats {
	__u64 packets;
	__u64 bytes;
	__u64 allowed;
	__u64 denied;
	__u64 logged;
	__u64 session_hits;
	__u64 new_sessions;
	__u64 events_lost;
	__u64 reclassified;
	__u64 not_ipv4;
	__u64 events;
};

struct policy_event {
	__u64 ts_ns;
	__u64 packets;
	__u64 bytes;
	__u32 src_ip;    /* of the packet, network order */
	__u32 dst_ip;
	__u16 src_port;  /* host order */
	__u16 dst_port;
	__u8 proto;
	__u8 type;
	__u8 action;
	__u8 dir;        /* 0 ingress, 1 egress */
	__u32 rule;
	__u32 gen;
	__u32 ifindex;
	__u32 pkt_len;
	__u32 pad;
};

#endif
