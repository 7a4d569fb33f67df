package dev.puzzle.core.cuda;

import dev.puzzle.core.tensor.Backend;

/** The backend a user names: the CPU, CUDA, or the GPU when one opens and else the CPU. */
public final class BackendChoice {
    private BackendChoice() {}

    /**
     * The backend a {@code --backend} choice names: {@code cpu}; {@code cuda}, which fails with a
     * {@link dev.puzzle.core.PuzzleException} naming why when no GPU or native library is present; or
     * {@code auto}, the GPU when it opens, else the CPU after one line to {@code notice} saying why.
     */
    public static Backend select(String choice, java.util.function.Consumer<String> notice) {
        switch (choice) {
            case "cpu":
                return Backend.cpu();
            case "cuda", "auto":
                try {
                    return CudaBackend.open();
                } catch (CudaDevice.Unavailable e) {
                    if (choice.equals("cuda")) throw dev.puzzle.core.PuzzleException.setting("backend", "cuda", e.getMessage());
                    notice.accept("backend auto: " + e.getMessage() + "; computing on the CPU");
                    return Backend.cpu();
                }
            default:
                throw dev.puzzle.core.PuzzleException.setting("backend", "'" + choice + "'", "must be cpu, cuda or auto");
        }
    }
}
