/* prunebench/hugemap.h — anonymous memory for weights on transparent huge
 * pages, for the core's loader and any plugin that keeps its own copy of
 * weights (cpu-blas's repacked tensors).
 *
 * Decode streams every weight once per token.  On 4 KB pages each page
 * costs a TLB miss and restarts the hardware prefetcher; hosts whose THP
 * mode is `madvise` give huge pages only to memory that asks for them
 * (MADV_HUGEPAGE).  Where the kernel has no THP the request fails and the
 * pages stay 4 KB: the same bytes.
 */
#ifndef PRUNEBENCH_HUGEMAP_H
#define PRUNEBENCH_HUGEMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PB_HUGE_PAGE ((size_t)2 << 20)

/* A private anonymous mapping of len bytes rounded up to whole pages, at
 * an address ≡ phase (mod 2 MB) — 0 for a 2 MB-aligned one; the phase of
 * an address it will be mremap'd onto, so that whole huge pages move —
 * asking for huge pages when `huge`.  *mapped: the length to munmap (or
 * mremap).  NULL when the mapping fails. */
static inline void *pb_map_huge(size_t len, uintptr_t phase, int huge, size_t *mapped)
{
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE), span = (len + pg - 1) / pg * pg;
	uint8_t *r = (uint8_t *)mmap(NULL, span + PB_HUGE_PAGE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	/* keep [a, a + span) of the over-sized mapping, a at the phase */
	uint8_t *a = r + (phase % PB_HUGE_PAGE + PB_HUGE_PAGE - (uintptr_t)r % PB_HUGE_PAGE) %
			 PB_HUGE_PAGE;
	if (a > r)
		munmap(r, (size_t)(a - r));
	if (a + span < r + span + PB_HUGE_PAGE)
		munmap(a + span, (size_t)(r + span + PB_HUGE_PAGE - (a + span)));
#ifdef MADV_HUGEPAGE
	if (huge)
		madvise(a, span, MADV_HUGEPAGE);
#else
	(void)huge;
#endif
	*mapped = span;
	return a;
}

#endif
