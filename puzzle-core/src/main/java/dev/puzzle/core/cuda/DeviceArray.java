package dev.puzzle.core.cuda;

/** A device allocation at {@code address} of {@code length} elements of {@code elementBytes} each (FP32, BF16 or FP64). */
public record DeviceArray(long address, long length, int elementBytes) {

    /** The address of element {@code i}. */
    public long at(long i) {
        return address + i * elementBytes;
    }

    /** A view from element {@code off} of n elements (shares the allocation; never freed on its own). */
    public DeviceArray slice(long off, long n) {
        if (off < 0 || n < 0 || off + n > length) throw new IndexOutOfBoundsException("slice " + off + "+" + n + " of " + length);
        return new DeviceArray(at(off), n, elementBytes);
    }
}
