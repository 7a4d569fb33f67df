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

// A block's CUDA threads are fibers (ucontext) on the calling thread, run round-robin: each runs until it reaches
// __syncthreads (or ends), then the next; a round ends with every thread at the barrier, so the barrier holds.
// One launch at a time (the emulated device serializes them).
struct EmuFiber {
    ucontext_t ctx;
    std::vector<char> stack;
    bool done = false;
};

inline ucontext_t emu_scheduler;
inline std::vector<EmuFiber> emu_fibers;
inline unsigned emu_current = 0;
inline const std::function<void()>* emu_kernel = nullptr;

inline void __syncthreads() { swapcontext(&emu_fibers[emu_current].ctx, &emu_scheduler); }

inline void emu_fiber_main() {
    (*emu_kernel)();
    emu_fibers[emu_current].done = true;
    // returning resumes uc_link: the scheduler
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
            for (unsigned t = 0; t < n; t++) {
                EmuFiber& f = emu_fibers[t];
                if (f.stack.empty()) f.stack.resize(256 * 1024);
                getcontext(&f.ctx);
                f.ctx.uc_stack.ss_sp = f.stack.data();
                f.ctx.uc_stack.ss_size = f.stack.size();
                f.ctx.uc_link = &emu_scheduler;
                f.done = false;
                makecontext(&f.ctx, emu_fiber_main, 0);
            }
            for (bool running = true; running;) {
                running = false;
                for (unsigned t = 0; t < n; t++) {
                    if (emu_fibers[t].done) continue;
                    emu_current = t;
                    threadIdx = dim3{t % block.x, t / block.x, 1};
                    swapcontext(&emu_scheduler, &emu_fibers[t].ctx);
                    running |= !emu_fibers[t].done;
                }
            }
        }
    }
}
