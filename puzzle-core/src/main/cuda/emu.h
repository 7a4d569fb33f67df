// Host emulation of the CUDA constructs kernels.cu uses, for the tests only: every thread of a block is a fiber,
// __syncthreads a switch back to the scheduler (which resumes the threads in turn once all have arrived),
// __shared__ memory a function-static array (blocks run one after another), atomics std::atomic_ref. Faithful to
// the kernels' index arithmetic and reductions; a missing barrier shows as a stale read wherever a thread reads
// what a later thread of its block writes (threads run in index order between barriers).
#pragma once
#include <algorithm>
#include <atomic>
#include <mutex>
#include <cmath>
#include <cstring>
#include <functional>
#include <csetjmp>
#include <ucontext.h>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

#define KERNEL extern "C"
#define DEVICE static inline
#define __shared__ static

using std::max;
using std::min;
using std::sqrt;

inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    std::memcpy(&u, &f, 4);
    return u;
}

inline float __uint_as_float(unsigned int u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v); }

// A block's CUDA threads are fibers on the calling thread, run round-robin: each runs until it reaches
// __syncthreads (or ends its block), then the next; a round ends with every thread at the barrier, so the barrier
// holds. A fiber is made once (ucontext: its own stack, entered once with swapcontext) and then switched with
// _setjmp/_longjmp, which make no system call (swapcontext saves and restores the signal mask with one, each way:
// slow where system calls are, as in sandboxes); it runs the kernel for one block after another and across launches.
// One launch at a time (the emulated device serializes them).
struct EmuFiber {
    ucontext_t ctx;          // its first entry only
    jmp_buf at;              // where it waits: at a barrier, or done with its block
    std::vector<char> stack;
    bool started = false, done = false;
};

inline ucontext_t emu_entry;     // the scheduler while a fiber makes its first entry (never resumed)
inline jmp_buf emu_scheduler;    // where a fiber returns to at a barrier or at the end of its block
inline std::vector<EmuFiber> emu_fibers;
inline unsigned emu_current = 0;
inline const std::function<void()>* emu_kernel = nullptr;

inline void emu_yield() {
    if (!_setjmp(emu_fibers[emu_current].at)) _longjmp(emu_scheduler, 1);
}

inline void __syncthreads() { emu_yield(); }

inline void emu_fiber_main() {
    for (;;) { // one block per turn; resumed with done false for the next block
        (*emu_kernel)();
        emu_fibers[emu_current].done = true;
        emu_yield();
    }
}

// Runs fiber f until it yields: its first entry on its own stack, else back where it waited.
[[gnu::noinline]] inline void emu_resume(EmuFiber& f) {
    if (_setjmp(emu_scheduler)) return; // it yielded
    if (f.started) _longjmp(f.at, 1);
    f.started = true;
    if (f.stack.empty()) f.stack.resize(256 * 1024);
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack.data();
    f.ctx.uc_stack.ss_size = f.stack.size();
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, emu_fiber_main, 0);
    swapcontext(&emu_entry, &f.ctx);
}

// Runs kernel() on grid × block threads: the blocks in order, each block's threads as fibers.
inline void emu_launch(dim3 grid, dim3 block, const std::function<void()>& kernel) {
    static std::mutex one;
    std::lock_guard<std::mutex> serial(one);
    gridDim = grid;
    blockDim = block;
    emu_kernel = &kernel;
    unsigned n = block.x * block.y;
    if (emu_fibers.size() < n) emu_fibers.resize(n);
    for (unsigned by = 0; by < grid.y; by++) {
        for (unsigned bx = 0; bx < grid.x; bx++) {
            blockIdx = dim3{bx, by, 1};
            for (unsigned t = 0; t < n; t++) emu_fibers[t].done = false;
            for (bool running = true; running;) {
                running = false;
                for (unsigned t = 0; t < n; t++) {
                    if (emu_fibers[t].done) continue;
                    emu_current = t;
                    threadIdx = dim3{t % block.x, t / block.x, 1};
                    emu_resume(emu_fibers[t]);
                    running |= !emu_fibers[t].done;
                }
            }
        }
    }
}
