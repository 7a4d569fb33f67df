package dev.puzzle.cli;

import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Bytes to a PrintWriter, decoded as UTF-8 incrementally: a character split across two tokens' pieces comes out whole. */
final class Utf8Sink extends OutputStream {
    private final PrintWriter out;
    private final CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pending = ByteBuffer.allocate(64);
    private final CharBuffer chars = CharBuffer.allocate(256);

    Utf8Sink(PrintWriter out) {
        this.out = out;
    }

    @Override
    public void write(int b) {
        write(new byte[]{(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
        if (pending.remaining() < len) {
            ByteBuffer bigger = ByteBuffer.allocate(pending.position() + len + 64);
            pending.flip();
            bigger.put(pending);
            pending = bigger;
        }
        pending.put(b, off, len);
        pending.flip();
        while (true) {
            chars.clear();
            var r = dec.decode(pending, chars, false);
            chars.flip();
            out.append(chars);
            if (!r.isOverflow()) break;
        }
        pending.compact();
    }

    @Override
    public void flush() {
        out.flush();
    }
}
