// Host emulation of the CUDA constructs kernels.cu uses, for the tests only: every thread of a block is a host
// thread, __syncthreads a barrier, __shared__ memory a function-static array (blocks run one after another),
// atomics std::atomic_ref. Slow and faithful to the kernels' index arithmetic, synchronization and reductions.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <condition_variable>
#include <mutex>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emu_barrier = nullptr;

#define KERNEL extern "C"
#define DEVICE static inline
#define __shared__ static

inline void __syncthreads() { emu_barrier->arrive_and_wait(); }

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

// The host threads that play a block's CUDA threads, kept across launches (creating hundreds of threads per launch
// cost more than the kernels). Never destroyed: the process may exit with them waiting.
struct EmuPool {
    std::mutex m;
    std::condition_variable start, done;
    std::vector<std::thread> threads;
    const std::function<void()>* kernel = nullptr;
    std::barrier<>* bar = nullptr;
    unsigned active = 0, remaining = 0;
    long generation = 0;

    void grow(unsigned n) {
        while (threads.size() < n) {
            unsigned id = (unsigned) threads.size();
            threads.emplace_back([this, id] { work(id); });
            threads.back().detach();
        }
    }

    void work(unsigned id) {
        long seen = 0;
        for (;;) {
            std::unique_lock<std::mutex> lk(m);
            start.wait(lk, [&] { return generation != seen; });
            seen = generation;
            if (id >= active) continue;
            lk.unlock();
            threadIdx = dim3{id % blockDim.x, id / blockDim.x, 1};
            for (unsigned by = 0; by < gridDim.y; by++) {
                for (unsigned bx = 0; bx < gridDim.x; bx++) {
                    blockIdx = dim3{bx, by, 1};
                    (*kernel)();
                    bar->arrive_and_wait(); // the next block reuses the shared arrays
                }
            }
            lk.lock();
            if (--remaining == 0) done.notify_all();
        }
    }
};

// Runs kernel() on grid × block threads: the block's threads as host threads, the blocks in order. One launch at a time.
inline void emu_launch(dim3 grid, dim3 block, const std::function<void()>& kernel) {
    static EmuPool* pool = new EmuPool();
    static std::mutex one;
    std::lock_guard<std::mutex> serial(one);
    unsigned n = block.x * block.y;
    std::barrier<> bar((std::ptrdiff_t) n);
    pool->grow(n);
    std::unique_lock<std::mutex> lk(pool->m);
    gridDim = grid;
    blockDim = block;
    emu_barrier = &bar;
    pool->bar = &bar;
    pool->kernel = &kernel;
    pool->active = n;
    pool->remaining = n;
    pool->generation++;
    pool->start.notify_all();
    pool->done.wait(lk, [&] { return pool->remaining == 0; });
}
