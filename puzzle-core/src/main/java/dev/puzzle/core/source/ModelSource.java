package dev.puzzle.core.source;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.io.AtomicFiles;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Resolves a model or tokenizer argument to a local path. A plain path is used as is. A Hugging Face
 * reference {@code hf:OWNER/REPO/PATH/IN/REPO} (or {@code hf:OWNER/REPO} for a whole directory) is
 * looked up in order: the local cache ({@code PUZZLE_CACHE}, default {@code ~/.cache/puzzle/hf}),
 * then each mirror directory (as {@code MIRROR/OWNER/REPO/PATH}, {@code MIRROR/REPO/PATH} or
 * {@code MIRROR/PATH}), then downloaded from huggingface.co into the cache.
 *
 * @param cacheDir where downloads are kept
 * @param mirrors  directories searched before downloading (air-gapped machines)
 * @param allowDownload whether to try the network at all
 */
public record ModelSource(Path cacheDir, List<Path> mirrors, boolean allowDownload) {

    public static final String PREFIX = "hf:";

    /** Cache and mirrors from the environment: {@code PUZZLE_CACHE}, {@code PUZZLE_HF_MIRRORS} (path-separated), {@code PUZZLE_OFFLINE=1}. */
    public static ModelSource fromEnvironment() {
        String cache = System.getenv("PUZZLE_CACHE");
        Path c = cache != null && !cache.isBlank() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "puzzle", "hf");
        List<Path> mirrors = new ArrayList<>();
        String m = System.getenv("PUZZLE_HF_MIRRORS");
        if (m != null) for (String s : m.split(java.io.File.pathSeparator)) if (!s.isBlank()) mirrors.add(Path.of(s.trim()));
        return new ModelSource(c, mirrors, !"1".equals(System.getenv("PUZZLE_OFFLINE")));
    }

    public ModelSource withMirrors(List<Path> extra) {
        List<Path> all = new ArrayList<>(extra);
        all.addAll(mirrors);
        return new ModelSource(cacheDir, all, allowDownload);
    }

    public static boolean isHfRef(String s) {
        return s.startsWith(PREFIX);
    }

    /** A local path for {@code ref}, fetched if need be. */
    public Path resolve(String ref) {
        if (!isHfRef(ref)) {
            Path p = Path.of(ref);
            if (!Files.exists(p)) throw new PuzzleException(ref + ": no such file or directory");
            return p;
        }
        String[] parts = ref.substring(PREFIX.length()).split("/", 3);
        if (parts.length < 2 || parts[0].isEmpty() || parts[1].isEmpty() || ref.contains("..")) {
            throw new PuzzleException(ref + ": a Hugging Face reference is hf:OWNER/REPO[/PATH]");
        }
        String owner = parts[0], repo = parts[1], path = parts.length == 3 ? parts[2] : "";
        List<Path> tried = new ArrayList<>();
        Path cached = cacheDir.resolve(owner).resolve(repo).resolve(path);
        tried.add(cached);
        if (Files.exists(cached)) return cached;
        for (Path m : mirrors) {
            for (Path cand : path.isEmpty() ? List.of(m.resolve(owner).resolve(repo), m.resolve(repo))
                    : List.of(m.resolve(owner).resolve(repo).resolve(path), m.resolve(repo).resolve(path), m.resolve(path))) {
                tried.add(cand);
                if (Files.exists(cand)) return cand;
            }
        }
        if (path.isEmpty()) {
            throw new PuzzleException(ref + ": not in the cache or mirrors (looked at " + tried + "); whole-repository downloads are not supported, name a file");
        }
        if (!allowDownload) throw new PuzzleException(ref + ": not in the cache or mirrors (looked at " + tried + ") and downloads are off (PUZZLE_OFFLINE=1)");
        return download(ref, owner, repo, path, cached, tried);
    }

    private static Path download(String ref, String owner, String repo, String path, Path target, List<Path> tried) {
        URI uri = URI.create("https://huggingface.co/" + owner + "/" + repo + "/resolve/main/" + path);
        try {
            HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(20)).build();
            HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
            if (r.statusCode() != 200) {
                r.body().close();
                throw new PuzzleException(ref + ": download from " + uri + " failed with HTTP " + r.statusCode());
            }
            try (InputStream in = r.body()) {
                AtomicFiles.write(target, in::transferTo);
            }
            return target;
        } catch (IOException e) {
            throw new PuzzleException(ref + ": not in the cache or mirrors (looked at " + tried + ") and the download from " + uri
                    + " failed (" + e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "")
                    + "); set PUZZLE_HF_MIRRORS to a directory holding the file");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PuzzleException(ref + ": download interrupted");
        }
    }
}
