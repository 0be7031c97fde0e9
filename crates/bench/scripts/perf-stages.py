#!/usr/bin/env python3
"""CPU budget per stage from a `perf record --call-graph dwarf` profile of
armsledger-bench (docs/performance.md sections 1 and 2).

    perf script -i FILE.data -F comm,tid,time,ip,sym --no-inline | gzip > FILE.gz
    perf-stages.py verify|ingest FILE.gz HZ ENTRIES [-v]

Samples between the first and the last with `verify_bundle` (verify) or
`run_group` (ingest) on the stack are each put in the first stage of the
list below that matches any frame of the stack; printed as core-seconds per
1M entries (samples / HZ, scaled), with the allocator's part.
"""
import gzip, re, sys, collections

def samples(path):
    cur=None
    with gzip.open(path,'rt',errors='replace') as f:
        for line in f:
            if not line.strip():
                if cur: yield cur
                cur=None; continue
            if not line.startswith('\t') and not line.startswith(' '*4):
                m=re.match(r'^(.*?)\s+(\d+)\s+([\d.]+):',line)
                cur={'comm':m.group(1).strip(),'tid':int(m.group(2)),'t':float(m.group(3)),'f':[]}
            else:
                parts=line.strip().split(' ',1)
                cur['f'].append(parts[1] if len(parts)>1 else parts[0])
    if cur: yield cur

ALLOC=re.compile(r'^(malloc|_int_malloc|_int_free|cfree|free|realloc|_int_realloc|unlink_chunk|malloc_consolidate|__libc_malloc|__libc_free|__rust_alloc|__rust_dealloc|__rdl_|__rustc::__rd|alloc::alloc|tcache|sysmalloc|clear_page|exc_page_fault|__handle_mm_fault|do_anonymous|alloc::raw_vec|RawVecInner|core::ptr::drop_in_place)')
def classify_stack(frames, stages):
    for name,pat in stages:
        for f in frames:
            if re.search(pat,f): return name
    return None
def run(path, window_pat, stages, hz, entries, label, verbose=False, tid_filter=None):
    S=list(samples(path))
    ts=[s['t'] for s in S if any(re.search(window_pat,f) for f in s['f'])]
    t0,t1=min(ts),max(ts)
    W=[s for s in S if t0<=s['t']<=t1]
    cnt=collections.Counter(); al=collections.Counter(); leaves=collections.defaultdict(collections.Counter)
    thr=collections.Counter(); bythr=collections.defaultdict(collections.Counter)
    for s in W:
        st=classify_stack(s['f'], stages) or ('other: '+s['comm'])
        cnt[st]+=1
        thr[s['comm']]+=1; bythr[s['comm']][st]+=1
        if any(ALLOC.search(f) for f in s['f'][:3]): al[st]+=1
        leaves[st][' < '.join(x[:50] for x in s['f'][:3]) if s['f'] else '?']+=1
    dur=t1-t0; tot=len(W)
    scale=1e6/entries/hz
    print(f'## {label}: window {dur:.2f}s, {tot} samples at {hz} Hz = {tot/hz:.2f} core-s; per 1M entries {tot*scale:.2f} core-s; CPU use {tot/hz/dur:.2f} cores; wall per 1M {dur*1e6/entries:.2f}s')
    print('threads:', {k: round(v*scale,2) for k,v in thr.most_common()})
    print('| stage | core-s per 1M | share | of which allocator/page faults |')
    for k,v in sorted(cnt.items(), key=lambda x:-x[1]):
        print(f'| {k} | {v*scale:.2f} | {100*v/tot:.1f} % | {al[k]*scale:.2f} |')
    tal=sum(al.values()); print(f'allocator total {tal*scale:.2f} core-s/1M ({100*tal/tot:.1f} %)')
    if verbose:
        for c,sc in bythr.items(): print('thread',c,{k:round(v*scale,2) for k,v in sc.most_common(8)})
        for k,v in sorted(cnt.items(), key=lambda x:-x[1]):
            print('==',k)
            for l,n in leaves[k].most_common(8): print('   ',n,l)

V=[
 ('sig: R decompression + small-order check', r'decode_signature|decompress'),
 ('sig: torsion test', r'all_torsion_free|torsion_free_mask|prime_order|FindFolder|chacha'),
 ('sig: batch equations (multiscalar mult)', r'vartime_mul|multiscalar|batch_holds|pippenger'),
 ('sig: hashing k (SHA-512)', r'sha512|challenge'),
 ('sig: other', r'armsledger_core::sig::batch|curve25519|ed25519'),
 ('index recompute (own thread)', r'armsledger_index|verify::index|armsledger-inde'),
 ('rules apply', r'rules::engine::Engine::apply|rules::check|armsledger_core::rules'),
 ('chain checks (ingest_checked w/o rules)', r'LedgerVerifier::ingest_checked|SubjectTracker|ChainCursor|KeyRegistry|check_position'),
 ('hashing (SHA-256: leaf, entry hash, tree frontier)', r'sha256|Sha256|Frontier|EntryLeaf'),
 ('decoding entries', r'SignedEntry::decode|postcard|serde'),
 ('signed message', r'signed_message'),
 ('sequential pass: report bookkeeping', r'verify::chunk::.*Run.*apply|Run>::one|Run>::entry|Run>::place'),
 ('reading bundle records', r'verify::Run::record|verify::open|format::|read_exact|std::io'),
 ('chunk prepare (other)', r'chunk::prepare'),
 ('rayon / threads', r'rayon|crossbeam|futex|sched_yield'),
 ('verify other', r'verify_bundle|armsledger_bundle'),
]

I=[
 ('bench clients (encoding, HTTP client, checkpoint watcher; not server work)', r'ureq|armsledger_bench::|latest_checkpoint'),
 ('sig: R decompression + small-order check', r'decode_signature|decompress'),
 ('sig: torsion test', r'all_torsion_free|torsion_free_mask|prime_order|FindFolder|chacha'),
 ('sig: batch equations (multiscalar mult)', r'vartime_mul|multiscalar|batch_holds|pippenger'),
 ('sig: hashing k (SHA-512)', r'sha512|challenge'),
 ('sig: other', r'armsledger_core::sig::batch|curve25519|ed25519|signatures::verify_under'),
 ('compression (zstd, signature stage)', r'zstd|Precompressed|precompress'),
 ('map/index (checkpointer)', r'armsledger_index|index::bring_up'),
 ('checkpoint (tree root, signing)', r'sign_checkpoint|checkpoint_now|log::sign::'),
 ('redb commit (page writes, fsync)', r'WriteTransaction::commit|sync_data|fdatasync|fsync'),
 ('duplicate/equivocation lookups (index_of_hash, entry_by_slot)', r'entry_by_slot|index_of_hash|LogStore::read|LiveStore::read'),
 ('rules apply', r'armsledger_core::rules'),
 ('chain checks (check_batch + ingest_checked)', r'check_batch|ingest_checked|SubjectTracker|ChainCursor|KeyRegistry|still_valid|check_position'),
 ('Merkle leaves and tiles', r'EntryLeaf|merkle|tiles|Tile'),
 ('redb B-tree inserts and reads (log rows, postings, slots)', r'redb::'),
 ('store append, other (postings, terms, rows)', r'armsledger_store'),
 ('snapshot bookkeeping (history_committed)', r'snapshots::|history_committed'),
 ('HTTP body: decoding entries', r'SignedEntry::decode|decode_batch|postcard'),
 ('HTTP + JSON + tokio (hyper, axum, responses)', r'hyper|axum|tokio|tower|serde'),
 ('sequencer other', r'run_group|sequencer'),
 ('signature stage other', r'signatures::verify'),
 ('rayon / threads', r'rayon|crossbeam|futex|sched_yield'),
]

if __name__ == '__main__':
    kind, path, hz, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    stages, window = (V, r'verify_bundle') if kind == 'verify' else (I, r'run_group')
    run(path, window, stages, hz, n, kind, verbose='-v' in sys.argv)
