package dev.puzzle.core.cuda;

/**
 * A block op's parameter on the device: its FP32 value (the master weights), gradient, AdamW moments
 * and, for a matrix under BF16 GEMMs, the BF16 copy the GEMMs read (refreshed by every optimizer step).
 * {@link #download} writes the trained value back into the host array it was uploaded from.
 */
public final class DeviceParam {
    private final Device dev;
    private final float[] host; // the host parameter's values, shared with its tensor
    private final boolean matrix;
    private final DeviceArray value, grad;
    private DeviceArray m, v, bf16;

    /**
     * Uploads a parameter.
     *
     * @param name     its Hugging Face name, for messages
     * @param host     its values (null: mapped from the checkpoint, not trainable)
     * @param rank     its number of dimensions (a matrix is decayed by AdamW and gets a BF16 copy)
     */
    public DeviceParam(Device dev, String name, float[] host, int rank, boolean bf16Copy) {
        if (host == null) throw new IllegalArgumentException(name + " is mapped from the checkpoint and cannot be trained on the device");
        this.dev = dev;
        this.host = host;
        this.matrix = rank >= 2;
        this.value = dev.upload(host);
        this.grad = dev.floats(host.length);
        if (bf16Copy && matrix) {
            bf16 = dev.bf16(host.length);
            dev.launch("f32_to_bf16", Device.gridFor(host.length, 256), 256, bf16, value, (long) host.length);
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
        return matrix;
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

    /** The trained value into the host array (and so into the tensor that shares it). */
    public void download() {
        dev.download(value, 0, host, 0, host.length);
    }

    public void free() {
        for (DeviceArray a : new DeviceArray[]{value, grad, m, v, bf16}) dev.free(a);
    }
}
