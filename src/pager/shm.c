/*
 * shm.c — sequence-locked publication of the shared snapshot.  See shm.h.
 */
#include "shm.h"

#include <sched.h>
#include <string.h>

int shm_read_snapshot(ShmState *s, ShmSnapshot *out, uint64_t *seq)
{
    uint64_t words[SHM_META_WORDS];
    for (unsigned spins = 0;; spins++) {
        if (spins > (1u << 22))
            return -1; /* a writer died while publishing */
        uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (s1 & 1) {
            if (spins > 1024)
                sched_yield();
            continue;
        }
        for (size_t i = 0; i < SHM_META_WORDS; i++)
            words[i] = atomic_load_explicit(&s->meta[i], memory_order_relaxed);
        out->wal_salt = atomic_load_explicit(&s->wal_salt, memory_order_relaxed);
        out->wal_frames = atomic_load_explicit(&s->wal_frames, memory_order_relaxed);
        out->wal_gen = atomic_load_explicit(&s->wal_gen, memory_order_relaxed);
        for (int i = 0; i < 4; i++) {
            uint64_t w = atomic_load_explicit(&s->wal_chain[i], memory_order_relaxed);
            memcpy(out->wal_chain + 8 * i, &w, 8);
        }
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (s1 == s2) {
            if (seq)
                *seq = s1;
            break;
        }
    }
    memcpy(&out->meta, words, sizeof out->meta);
    return 0;
}

void shm_publish(ShmState *s, const ShmSnapshot *snap)
{
    uint64_t words[SHM_META_WORDS];
    memcpy(words, &snap->meta, sizeof words);
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed) | 1;
    /* seq is made odd; if a writer died mid-publish it already was */
    atomic_store_explicit(&s->seq, seq, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < SHM_META_WORDS; i++)
        atomic_store_explicit(&s->meta[i], words[i], memory_order_relaxed);
    atomic_store_explicit(&s->wal_salt, snap->wal_salt, memory_order_relaxed);
    atomic_store_explicit(&s->wal_frames, snap->wal_frames, memory_order_relaxed);
    atomic_store_explicit(&s->wal_gen, snap->wal_gen, memory_order_relaxed);
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, snap->wal_chain + 8 * i, 8);
        atomic_store_explicit(&s->wal_chain[i], w, memory_order_relaxed);
    }
    atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
    /* seq_cst: readers publish their slot, then re-check txn_hint */
    atomic_store_explicit(&s->txn_hint, snap->meta.txnid, memory_order_seq_cst);
}
