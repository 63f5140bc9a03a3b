// SPDX-License-Identifier: GPL-2.0
/* Otus policy dataplane (DESIGN section 8): a TC clsact program that tracks
 * sessions, matches IPv4 5-tuple policies and enforces ALLOW / DENY / LOG.
 *
 * Hot path: one lookup in the sessions LRU hash (keyed by the canonical
 * 5-tuple, so both directions share an entry). The session caches the
 * decision and the policy generation it was made under; when the control
 * plane publishes a new generation, the next packet of every session is
 * classified again, so no stale decision outlives a policy change.
 *
 * Classification (new sessions, or a new generation) is a bitmap
 * intersection: every rule is a bit, ordered by priority. Each dimension maps
 * the packet's value to the set of rules that accept it: source and
 * destination address through LPM tries (the most specific prefix carries
 * the rules of every enclosing prefix), protocol through a small hash, ports
 * through a port -> elementary interval array and a per-interval bitmap. The
 * first set bit of the AND is the highest-priority matching rule. The cost is
 * five lookups plus at most nwords 64-bit ANDs, whatever the rules are.
 *
 * Policy sets are double-buffered: everything is keyed by a slot (0 or 1),
 * the control plane fills the inactive slot and then flips one 64-bit config
 * word, so a replace is atomic for the packets. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "policy.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct policy_cfg);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 100000); /* the control plane resizes before load */
	__type(key, struct sess_key);
	__type(value, struct sess_val);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * POLICY_MAX_RULES + 2);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, struct bitmap);
} src_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * POLICY_MAX_RULES + 2);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, struct bitmap);
} dst_lpm SEC(".maps");

/* key: slot << 16 | protocol (0..255), or slot << 16 | 256 for "any other". */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 257);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct bitmap);
} proto_bm SEC(".maps");

/* index: slot * 65536 + port -> elementary interval (class) of that port. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * 65536);
	__type(key, __u32);
	__type(value, __u32);
} sport_cls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * 65536);
	__type(key, __u32);
	__type(value, __u32);
} dport_cls SEC(".maps");

/* key: slot << 16 | class. At most 2 * rules + 1 classes per slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * (2 * POLICY_MAX_RULES + 1));
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct bitmap);
} sport_bm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * (2 * POLICY_MAX_RULES + 1));
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct bitmap);
} dport_bm SEC(".maps");

/* index: slot * POLICY_MAX_RULES + rule -> action. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * POLICY_MAX_RULES);
	__type(key, __u32);
	__type(value, __u32);
} rule_act SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct policy_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024); /* resized by the control plane */
} events SEC(".maps");

static __always_inline __u32 lowest_bit(__u64 w)
{
	/* Index of the lowest set bit of a non-zero word (no ctz in BPF). */
	__u32 n = 0;
	w &= -w;
	if (w & 0xffffffff00000000ull) n += 32;
	if (w & 0xffff0000ffff0000ull) n += 16;
	if (w & 0xff00ff00ff00ff00ull) n += 8;
	if (w & 0xf0f0f0f0f0f0f0f0ull) n += 4;
	if (w & 0xccccccccccccccccull) n += 2;
	if (w & 0xaaaaaaaaaaaaaaaaull) n += 1;
	return n;
}

/* The highest-priority rule accepting the initiator's tuple, or NO_RULE. */
static __always_inline __u32 classify(__u32 slot, __u32 nwords, __u32 sip, __u32 dip,
				      __u16 sport, __u16 dport, __u8 proto)
{
	struct lpm_key k = { .prefixlen = 64, .slot = slot, .addr = sip };
	struct bitmap *s, *d, *p, *sp, *dp;
	__u32 key, *cls;

	s = bpf_map_lookup_elem(&src_lpm, &k);
	if (!s)
		return NO_RULE;
	k.addr = dip;
	d = bpf_map_lookup_elem(&dst_lpm, &k);
	if (!d)
		return NO_RULE;
	key = slot << 16 | proto;
	p = bpf_map_lookup_elem(&proto_bm, &key);
	if (!p) {
		key = slot << 16 | 256;
		p = bpf_map_lookup_elem(&proto_bm, &key);
		if (!p)
			return NO_RULE;
	}
	key = slot * 65536 + sport;
	cls = bpf_map_lookup_elem(&sport_cls, &key);
	if (!cls)
		return NO_RULE;
	key = slot << 16 | *cls;
	sp = bpf_map_lookup_elem(&sport_bm, &key);
	if (!sp)
		return NO_RULE;
	key = slot * 65536 + dport;
	cls = bpf_map_lookup_elem(&dport_cls, &key);
	if (!cls)
		return NO_RULE;
	key = slot << 16 | *cls;
	dp = bpf_map_lookup_elem(&dport_bm, &key);
	if (!dp)
		return NO_RULE;

	for (__u32 i = 0; i < POLICY_WORDS; i++) {
		if (i >= nwords)
			break;
		__u64 w = s->w[i] & d->w[i] & p->w[i] & sp->w[i] & dp->w[i];
		if (w)
			return i * 64 + lowest_bit(w);
	}
	return NO_RULE;
}

static __always_inline __u32 action_of(__u32 slot, __u32 rule, __u32 dflt)
{
	if (rule == NO_RULE)
		return dflt;
	__u32 key = slot * POLICY_MAX_RULES + rule;
	__u32 *a = bpf_map_lookup_elem(&rule_act, &key);
	return a ? *a : dflt;
}

static __always_inline void emit(struct policy_stats *st, __u8 type, __u8 action, __u8 dir,
				 __u32 sip, __u32 dip, __u16 sport, __u16 dport, __u8 proto,
				 struct sess_val *sv, __u32 ifindex, __u32 len, __u64 now)
{
	struct policy_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		st->events_lost++;
		return;
	}
	e->ts_ns = now;
	e->packets = sv->packets;
	e->bytes = sv->bytes;
	e->src_ip = sip;
	e->dst_ip = dip;
	e->src_port = sport;
	e->dst_port = dport;
	e->proto = proto;
	e->type = type;
	e->action = action;
	e->dir = dir;
	e->rule = sv->rule;
	e->gen = sv->gen;
	e->ifindex = ifindex;
	e->pkt_len = len;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	st->events++;
}

static __always_inline int handle(struct __sk_buff *skb, __u8 dir)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 zero = 0;
	struct policy_stats *st = bpf_map_lookup_elem(&stats, &zero);
	struct policy_cfg *c = bpf_map_lookup_elem(&cfg, &zero);
	if (!st || !c)
		return TC_ACT_OK;

	st->packets++;
	st->bytes += skb->len;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) {
		st->not_ipv4++;
		return TC_ACT_OK;
	}
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5) {
		st->not_ipv4++;
		return TC_ACT_OK;
	}
	__u32 sip = ip->saddr, dip = ip->daddr;
	__u8 proto = ip->protocol;
	__u16 sport = 0, dport = 0;
	/* Non-first fragments carry no ports: they match as port 0. */
	if (!(ip->frag_off & bpf_htons(0x1fff)) && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
		__u16 *ports = (void *)ip + ip->ihl * 4;
		if ((void *)(ports + 2) > end) {
			st->not_ipv4++;
			return TC_ACT_OK;
		}
		sport = bpf_ntohs(ports[0]);
		dport = bpf_ntohs(ports[1]);
	}

	/* Canonical key: the smaller (address, port) is side a. Addresses are
	 * compared in host order only so the order is the same as userspace's. */
	struct sess_key k = { .proto = proto };
	__u32 hs = bpf_ntohl(sip), hd = bpf_ntohl(dip);
	int src_is_a = hs < hd || (hs == hd && sport <= dport);
	if (src_is_a) {
		k.a_ip = sip; k.b_ip = dip; k.a_port = sport; k.b_port = dport;
	} else {
		k.a_ip = dip; k.b_ip = sip; k.a_port = dport; k.b_port = sport;
	}

	__u64 word = c->word;
	__u32 gen = (__u32)word;
	__u32 slot = gen & 1;
	__u32 nwords = (word >> 32) & 0xffff;
	__u32 dflt = (word >> 48) & 0xff;
	__u32 flags = word >> 56;
	__u64 now = bpf_ktime_get_ns();
	__u32 action;
	__u8 ev = 0;

	struct sess_val *sv = bpf_map_lookup_elem(&sessions, &k);
	if (sv) {
		st->session_hits++;
		if (sv->gen != gen) {
			/* A new policy generation: decide again, as the initiator. */
			__u32 isip = sip, idip = dip;
			__u16 isp = sport, idp = dport;
			if ((sv->init_is_a != 0) != (src_is_a != 0)) {
				isip = dip; idip = sip; isp = dport; idp = sport;
			}
			__u32 rule = classify(slot, nwords, isip, idip, isp, idp, proto);
			__u32 a = action_of(slot, rule, dflt);
			sv->rule = rule;
			sv->gen = gen;
			if (a != sv->action) {
				sv->action = a;
				sv->last_event_ns = 0; /* the change itself is worth an event */
			}
			st->reclassified++;
		}
		action = sv->action;
		sv->packets++;
		sv->bytes += skb->len;
		sv->last_ns = now;
		if (action != ACT_ALLOW && now - sv->last_event_ns >= c->event_interval_ns) {
			sv->last_event_ns = now;
			ev = action == ACT_DENY ? EV_DENY : EV_LOG;
			emit(st, ev, action, dir, sip, dip, sport, dport, proto, sv, skb->ifindex, skb->len, now);
		}
	} else {
		__u32 rule = classify(slot, nwords, sip, dip, sport, dport, proto);
		struct sess_val nv = {
			.first_ns = now,
			.last_ns = now,
			.packets = 1,
			.bytes = skb->len,
			.last_event_ns = now,
			.gen = gen,
			.rule = rule,
			.action = action_of(slot, rule, dflt),
			.init_is_a = src_is_a,
		};
		action = nv.action;
		bpf_map_update_elem(&sessions, &k, &nv, BPF_ANY);
		st->new_sessions++;
		if (action == ACT_DENY)
			ev = EV_DENY;
		else if (action == ACT_LOG)
			ev = EV_LOG;
		else if (flags & CFG_EVENTS_NEW_SESSION)
			ev = EV_NEW_SESSION;
		if (ev)
			emit(st, ev, action, dir, sip, dip, sport, dport, proto, &nv, skb->ifindex, skb->len, now);
	}

	if (action == ACT_DENY) {
		st->denied++;
		return TC_ACT_SHOT;
	}
	if (action == ACT_LOG)
		st->logged++;
	else
		st->allowed++;
	return TC_ACT_OK;
}

SEC("tc")
int otus_policy_ingress(struct __sk_buff *skb)
{
	return handle(skb, 0);
}

SEC("tc")
int otus_policy_egress(struct __sk_buff *skb)
{
	return handle(skb, 1);
}
