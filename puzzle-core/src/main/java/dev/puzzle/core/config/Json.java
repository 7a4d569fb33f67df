package dev.puzzle.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puzzle.core.PuzzleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading a JSON file with one-line errors that name the file, the problem and its line. */
public final class Json {
    private Json() {}

    /** Python's json writes Infinity and NaN (Nemotron-H's time_step_limit [0.0, Infinity]): read them as numbers. */
    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    /** The file's JSON object; {@code what} says what the file should be, for messages. */
    public static JsonNode readObject(Path file, String what) {
        JsonNode n;
        try {
            n = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new PuzzleException(file + ": no such file (" + what + ")");
        } catch (JsonProcessingException e) {
            String where = e.getLocation() != null ? " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() : "";
            throw new PuzzleException(file + ": not valid JSON" + where + ": " + e.getOriginalMessage().replace('\n', ' '));
        } catch (IOException e) {
            throw new PuzzleException(file + ": cannot read " + what + ": " + e.getMessage());
        }
        if (n == null || !n.isObject()) throw new PuzzleException(file + ": " + what + " must be a JSON object");
        return n;
    }
}
