package com.example.wordcount;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** The service's logic, apart from HTTP: word frequencies of a text, most frequent first. */
public final class WordCount {
    private WordCount() {
    }

    /** Lower-cased words (letters, digits and apostrophes) and how often each occurs. */
    public static Map<String, Integer> count(String text) {
        Map<String, Integer> counts = new TreeMap<>();
        if (text == null) {
            return counts;
        }
        for (String word : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}']+")) {
            String trimmed = word.replaceAll("^'+|'+$", "");
            if (!trimmed.isEmpty()) {
                counts.merge(trimmed, 1, Integer::sum);
            }
        }
        return counts;
    }

    /** The n most frequent words; ties in alphabetical order. */
    public static Map<String, Integer> top(String text, int n) {
        if (n < 1) {
            throw new IllegalArgumentException("n must be at least 1");
        }
        List<Map.Entry<String, Integer>> entries = count(text).entrySet().stream()
                .sorted(Map.Entry.<String, Integer>comparingByValue(Comparator.reverseOrder())
                        .thenComparing(Map.Entry.comparingByKey()))
                .limit(n)
                .collect(Collectors.toList());
        Map<String, Integer> result = new LinkedHashMap<>();
        entries.forEach(e -> result.put(e.getKey(), e.getValue()));
        return result;
    }
}
