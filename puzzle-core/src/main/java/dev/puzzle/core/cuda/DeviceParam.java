package dev.puzzle.core.cuda;

import dev.puzzle.core.ops.Param;

/**
 * A block op's {@link Param} on the device: its FP32 value (the master weights), gradient, AdamW moments
 * and, for a matrix under BF16 GEMMs, the BF16 copy the GEMMs read (refreshed by every optimizer step).
 * {@link #download} writes the trained value back into the host Param.
 */
public final class DeviceParam {
    public final Param host;
    private final Device dev;
    private final DeviceArray value, grad;
    private DeviceArray m, v, bf16;

    DeviceParam(Device dev, Param host, boolean bf16Copy) {
        if (host.w == null) throw new IllegalArgumentException(host.name + " is mapped from the checkpoint and cannot be trained on the device");
        this.dev = dev;
        this.host = host;
        this.value = dev.upload(host.w);
        this.grad = dev.floats(host.w.length);
        if (bf16Copy && host.shape.length >= 2) {
            bf16 = dev.bf16(host.w.length);
            dev.launch("f32_to_bf16", Device.gridFor(host.w.length, 256), 256, bf16, value, (long) host.w.length);
        }
    }

    public DeviceArray value() {
        return value;
    }

    public DeviceArray grad() {
        return grad;
    }

    /** The BF16 copy the GEMMs read (null under FP32). */
    public DeviceArray bf16() {
        return bf16;
    }

    public long length() {
        return value.length();
    }

    /** A matrix: AdamW decays it. */
    public boolean decays() {
        return host.shape.length >= 2;
    }

    DeviceArray firstMoment() {
        if (m == null) m = dev.floats(length());
        return m;
    }

    DeviceArray secondMoment() {
        if (v == null) v = dev.floats(length());
        return v;
    }

    public void zeroGrad() {
        dev.zero(grad);
    }

    /** The trained value into the host Param (and so into the tensor it shares). */
    public void download() {
        dev.download(value, 0, host.w, 0, host.w.length);
    }

    void free() {
        for (DeviceArray a : new DeviceArray[]{value, grad, m, v, bf16}) dev.free(a);
    }
}
