/* Signal n's bit in a 64-bit signal mask, shared by bpf/signals.bpf.c (its signal_mask rodata) and user space
 * (signals/signal_names.hpp), which fills that rodata: bit n-1, as in the kernel's sigset_t and /proc's SigCgt;
 * 0 for a number outside 1..64, so no shift ever reaches 64. */
#ifndef SIGDRAIN_BPF_SIGNAL_MASK_H
#define SIGDRAIN_BPF_SIGNAL_MASK_H

#define SIGDRAIN_SIGNAL_BIT(n) ((n) >= 1 && (n) <= 64 ? 1ULL << ((n) - 1) : 0ULL)

#endif
