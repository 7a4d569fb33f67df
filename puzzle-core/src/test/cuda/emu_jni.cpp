// The emulated device of EmulatedDevice (the tests' stand-in for a GPU): host memory, and the kernels of
// kernels.cu run under emu.h, called through JNI. Built by EmulatedDevice with
//   g++ -std=c++20 -O2 -pthread -shared -fPIC -I puzzle-core/src/main/cuda -I $JAVA_HOME/include{,/linux}
// A launch passes every argument as 64 bits: an address, an int or long, or a float's bit pattern.
#include "kernels.cu"

#include <jni.h>
#include <cstdlib>
#include <cstring>
#include <string>

static float bits_to_float(jlong v) {
    unsigned int u = (unsigned int) (v & 0xffffffffLL);
    return __uint_as_float(u);
}

extern "C" {

JNIEXPORT jlong JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_alloc(JNIEnv*, jclass, jlong bytes) {
    return (jlong) std::calloc((size_t) (bytes > 0 ? bytes : 1), 1);
}

JNIEXPORT void JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_release(JNIEnv*, jclass, jlong p) {
    std::free((void*) p);
}

JNIEXPORT void JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_upload(JNIEnv* env, jclass, jlong dst, jfloatArray src, jint off, jint n) {
    env->GetFloatArrayRegion(src, off, n, (jfloat*) dst);
}

JNIEXPORT void JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_download(JNIEnv* env, jclass, jlong src, jfloatArray dst, jint off, jint n) {
    env->SetFloatArrayRegion(dst, off, n, (const jfloat*) src);
}

JNIEXPORT void JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_downloadDoubles(JNIEnv* env, jclass, jlong src, jdoubleArray dst, jint n) {
    env->SetDoubleArrayRegion(dst, 0, n, (const jdouble*) src);
}

JNIEXPORT void JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_copy(JNIEnv*, jclass, jlong dst, jlong src, jlong bytes) {
    std::memmove((void*) dst, (const void*) src, (size_t) bytes);
}

JNIEXPORT void JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_zero(JNIEnv*, jclass, jlong p, jlong bytes) {
    std::memset((void*) p, 0, (size_t) bytes);
}

// Returns false for an unknown kernel.
JNIEXPORT jboolean JNICALL Java_dev_puzzle_core_cuda_EmulatedDevice_launch(JNIEnv* env, jclass, jstring name, jint gx, jint gy, jint bx, jint by, jlongArray argArray) {
    const char* cs = env->GetStringUTFChars(name, nullptr);
    std::string k(cs);
    env->ReleaseStringUTFChars(name, cs);
    jsize n = env->GetArrayLength(argArray);
    std::vector<jlong> a((size_t) n);
    env->GetLongArrayRegion(argArray, 0, n, a.data());
#define P(i) ((float*) a[i])
#define S(i) ((unsigned short*) a[i])
#define D(i) ((double*) a[i])
#define I(i) ((int) a[i])
#define L(i) ((long long) a[i])
#define F(i) bits_to_float(a[i])
#define RUN(call) emu_launch(dim3{(unsigned) gx, (unsigned) gy, 1}, dim3{(unsigned) bx, (unsigned) by, 1}, [&] { call; }); return JNI_TRUE
    if (k == "rmsnorm_fwd") { RUN(rmsnorm_fwd(P(0), P(1), P(2), P(3), I(4), I(5), F(6))); }
    if (k == "rmsnorm_bwd_x") { RUN(rmsnorm_bwd_x(P(0), P(1), P(2), P(3), P(4), I(5), I(6))); }
    if (k == "rmsnorm_bwd_w") { RUN(rmsnorm_bwd_w(P(0), P(1), P(2), P(3), I(4), I(5))); }
    if (k == "swiglu_fwd") { RUN(swiglu_fwd(P(0), P(1), P(2), L(3))); }
    if (k == "swiglu_bwd") { RUN(swiglu_bwd(P(0), P(1), P(2), P(3), P(4), L(5))); }
    if (k == "rope") { RUN(rope(P(0), P(1), I(2), I(3), I(4), I(5), I(6), F(7))); }
    if (k == "attn_fwd") { RUN(attn_fwd(P(0), P(1), P(2), P(3), P(4), I(5), I(6), I(7), I(8), I(9), I(10), F(11))); }
    if (k == "attn_bwd_q") { RUN(attn_bwd_q(P(0), P(1), P(2), P(3), P(4), P(5), I(6), I(7), I(8), I(9), I(10), I(11), F(12))); }
    if (k == "attn_bwd_kv") { RUN(attn_bwd_kv(P(0), P(1), P(2), P(3), P(4), P(5), I(6), I(7), I(8), I(9), I(10), I(11))); }
    if (k == "attn_decode") { RUN(attn_decode(P(0), P(1), P(2), P(3), P(4), I(5), I(6), I(7), I(8), I(9), I(10), F(11))); }
    if (k == "add") { RUN(add(P(0), P(1), P(2), L(3))); }
    if (k == "add_rows") { RUN(add_rows(P(0), P(1), I(2), I(3))); }
    if (k == "sum_rows") { RUN(sum_rows(P(0), P(1), I(2), I(3))); }
    if (k == "f32_to_bf16") { RUN(f32_to_bf16(S(0), P(1), L(2))); }
    if (k == "nmse_sums") { RUN(nmse_sums(D(0), P(1), P(2), L(3))); }
    if (k == "nmse_grad") { RUN(nmse_grad(P(0), P(1), P(2), D(3), L(4))); }
    if (k == "sum_squares") { RUN(sum_squares(D(0), P(1), L(2))); }
    if (k == "adamw") { RUN(adamw(P(0), P(1), P(2), P(3), S(4), L(5), D(6), F(7), F(8), F(9), F(10), F(11), F(12), F(13), F(14), I(15))); }
    if (k == "gemm_f32") { RUN(gemm_f32(I(0), I(1), I(2), P(3), L(4), L(5), P(6), L(7), L(8), P(9), I(10), F(11))); }
    if (k == "gemm_bf16") { RUN(gemm_bf16(I(0), I(1), I(2), S(3), L(4), L(5), S(6), L(7), L(8), P(9), I(10), F(11))); }
    return JNI_FALSE;
}
}
