// Runs one kernel of kernels.cu under emu.h for CudaKernelsEmulationTest:
//   emu OP IN OUT GRID BLOCK ARGS...
// Built by HostCuda (for CudaKernelsEmulationTest) with g++ -I puzzle-core/src/main/cuda. IN and OUT hold arrays as [int64 count][count float32], in the order each op below names; ARGS are the op's
// sizes. The test compares OUT with the CPU block ops.
#include "kernels.cu" // puzzle-core/src/main/cuda, on the include path

#include <cstdio>
#include <cstdlib>
#include <string>

static std::vector<std::vector<float>> read_arrays(const char* path) {
    std::vector<std::vector<float>> out;
    FILE* f = std::fopen(path, "rb");
    if (!f) { std::perror(path); std::exit(2); }
    long long n;
    while (std::fread(&n, 8, 1, f) == 1) {
        std::vector<float> a((size_t) n);
        if (n > 0 && std::fread(a.data(), 4, (size_t) n, f) != (size_t) n) { std::fprintf(stderr, "%s: short\n", path); std::exit(2); }
        out.push_back(std::move(a));
    }
    std::fclose(f);
    return out;
}

static void write_arrays(const char* path, const std::vector<std::vector<float>*>& arrays) {
    FILE* f = std::fopen(path, "wb");
    for (auto* a : arrays) {
        long long n = (long long) a->size();
        std::fwrite(&n, 8, 1, f);
        std::fwrite(a->data(), 4, a->size(), f);
    }
    std::fclose(f);
}

static std::vector<unsigned short> bf16(const std::vector<float>& x) {
    std::vector<unsigned short> o(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        unsigned int u = __float_as_uint(x[i]);
        u += 0x7fffu + ((u >> 16) & 1u);
        o[i] = (unsigned short) (u >> 16);
    }
    return o;
}

int main(int argc, char** argv) {
    if (argc < 6) { std::fprintf(stderr, "usage: emu OP IN OUT GRID BLOCK ARGS...\n"); return 2; }
    std::string op = argv[1];
    auto in = read_arrays(argv[2]);
    dim3 grid{(unsigned) std::atoi(argv[4]), 1, 1}, block{(unsigned) std::atoi(argv[5]), 1, 1};
    auto I = [&](int i) { return std::atoi(argv[6 + i]); };
    auto F = [&](int i) { return (float) std::atof(argv[6 + i]); };
    if (op == "rmsnorm") { // x w -> out rstd dx dw (backward from dy = in[2])
        int N = I(0), D = I(1);
        float eps = F(2);
        std::vector<float> out(N * D), rstd(N), dx(N * D), dw(D, 0.f);
        emu_launch(grid, block, [&] { rmsnorm_fwd(out.data(), rstd.data(), in[0].data(), in[1].data(), N, D, eps); });
        emu_launch(grid, block, [&] { rmsnorm_bwd_x(dx.data(), in[2].data(), in[0].data(), rstd.data(), in[1].data(), N, D); });
        emu_launch(grid, block, [&] { rmsnorm_bwd_w(dw.data(), in[2].data(), in[0].data(), rstd.data(), N, D); });
        write_arrays(argv[3], {&out, &rstd, &dx, &dw});
    } else if (op == "swiglu") { // a b dg -> g da db
        long long n = (long long) in[0].size();
        std::vector<float> g(n), da(n), db(n);
        emu_launch(grid, block, [&] { swiglu_fwd(g.data(), in[0].data(), in[1].data(), n); });
        emu_launch(grid, block, [&] { swiglu_bwd(da.data(), db.data(), in[2].data(), in[0].data(), in[1].data(), n); });
        write_arrays(argv[3], {&g, &da, &db});
    } else if (op == "rope") { // x cs -> x rotated, x rotated back
        int rows = I(0), T = I(1), heads = I(2), E = I(3), style = I(4);
        std::vector<float> x = in[0];
        emu_launch(grid, block, [&] { rope(x.data(), in[1].data(), rows, T, heads, E, style, 1.f); });
        std::vector<float> back = x;
        emu_launch(grid, block, [&] { rope(back.data(), in[1].data(), rows, T, heads, E, style, -1.f); });
        write_arrays(argv[3], {&x, &back});
    } else if (op == "attention") { // q k v dO -> o p dq dk dv
        int S = I(0), T = I(1), H = I(2), G = I(3), E = I(4), window = I(5);
        float scale = 1.0f / std::sqrt((float) E);
        std::vector<float> o(S * T * H * E), p((size_t) S * H * T * T, 0.f), ds((size_t) S * H * T * T, 0.f), dq(S * T * H * E),
                dk(S * T * G * E), dv(S * T * G * E);
        emu_launch(grid, block, [&] { attn_fwd(o.data(), p.data(), in[0].data(), in[1].data(), in[2].data(), S, T, H, G, E, window, scale); });
        emu_launch(grid, block, [&] { attn_bwd_q(dq.data(), ds.data(), in[3].data(), p.data(), in[1].data(), in[2].data(), S, T, H, G, E, window, scale); });
        emu_launch(grid, block, [&] { attn_bwd_kv(dk.data(), dv.data(), ds.data(), p.data(), in[0].data(), in[3].data(), S, T, H, G, E, window); });
        write_arrays(argv[3], {&o, &p, &dq, &dk, &dv});
    } else if (op == "decode") { // q k v -> o (B queries at position L-1 over caches of L)
        int B = I(0), L = I(1), H = I(2), G = I(3), E = I(4), window = I(5);
        float scale = 1.0f / std::sqrt((float) E);
        std::vector<float> o((size_t) B * H * E), sc((size_t) B * H * L);
        emu_launch(grid, block, [&] { attn_decode(o.data(), sc.data(), in[0].data(), in[1].data(), in[2].data(), B, L, H, G, E, window, scale); });
        write_arrays(argv[3], {&o});
    } else if (op == "nmse") { // pred y -> [num, den] dPred
        long long n = (long long) in[0].size();
        double acc[2] = {0, 0};
        std::vector<float> d(n);
        emu_launch(grid, block, [&] { nmse_sums(acc, in[0].data(), in[1].data(), n); });
        emu_launch(grid, block, [&] { nmse_grad(d.data(), in[0].data(), in[1].data(), acc, n); });
        std::vector<float> sums{(float) acc[0], (float) acc[1]};
        write_arrays(argv[3], {&sums, &d});
    } else if (op == "adamw") { // w0 g0 w1 g1 -> w0 w1 after `steps` steps of the same gradients, clipped to a global norm
        int steps = I(0);
        float lr = F(1), maxNorm = F(2), wd = F(3);
        std::vector<float> w0 = in[0], w1 = in[2], m0(w0.size()), v0(w0.size()), m1(w1.size()), v1(w1.size());
        std::vector<unsigned short> w16(w1.size());
        for (int t = 1; t <= steps; t++) {
            std::vector<float> g0 = in[1], g1 = in[3];
            double ss[1] = {0};
            emu_launch(grid, block, [&] { sum_squares(ss, g0.data(), (long long) g0.size()); });
            emu_launch(grid, block, [&] { sum_squares(ss, g1.data(), (long long) g1.size()); });
            float bc1 = (float) (1 - std::pow(0.9, t)), bc2 = (float) (1 - std::pow(0.95, t));
            emu_launch(grid, block, [&] { adamw(w0.data(), g0.data(), m0.data(), v0.data(), nullptr, (long long) w0.size(), ss, maxNorm, lr, 0.9f, 0.95f, bc1, bc2, 1e-8f, wd, 1); });
            emu_launch(grid, block, [&] { adamw(w1.data(), g1.data(), m1.data(), v1.data(), w16.data(), (long long) w1.size(), ss, maxNorm, lr, 0.9f, 0.95f, bc1, bc2, 1e-8f, wd, 0); });
        }
        std::vector<float> w16f(w16.size());
        for (size_t i = 0; i < w16.size(); i++) w16f[i] = __uint_as_float(((unsigned int) w16[i]) << 16);
        write_arrays(argv[3], {&w0, &w1, &w16f});
    } else if (op == "gemm") { // a b c -> c (f32 kernel), c (bf16 kernel over the operands rounded to BF16)
        int M = I(0), N = I(1), K = I(2), ta = I(3), tb = I(4);
        float beta = F(5);
        long long sai = ta ? 1 : K, sak = ta ? M : 1, sbk = tb ? 1 : N, sbj = tb ? K : 1;
        std::vector<float> c = in[2], c16 = in[2];
        dim3 g2{grid.x, grid.x, 1}, b2{16, 16, 1}; // the GEMMs take 16x16 blocks (BLOCK is ignored)
        emu_launch(g2, b2, [&] { gemm_f32(M, N, K, in[0].data(), sai, sak, in[1].data(), sbk, sbj, c.data(), N, beta); });
        auto a16 = bf16(in[0]), bb16 = bf16(in[1]);
        emu_launch(g2, b2, [&] { gemm_bf16(M, N, K, a16.data(), sai, sak, bb16.data(), sbk, sbj, c16.data(), N, beta); });
        write_arrays(argv[3], {&c, &c16});
    } else {
        std::fprintf(stderr, "unknown op %s\n", op.c_str());
        return 2;
    }
    return 0;
}
