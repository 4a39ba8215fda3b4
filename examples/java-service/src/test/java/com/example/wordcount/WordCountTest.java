package com.example.wordcount;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.Test;

public class WordCountTest {
    @Test
    public void countsWordsIgnoringCaseAndPunctuation() {
        Map<String, Integer> counts = WordCount.count("The cat; the HAT. Don't!");
        assertEquals(Integer.valueOf(2), counts.get("the"));
        assertEquals(Integer.valueOf(1), counts.get("don't"));
        assertEquals(4, counts.size());
    }

    @Test
    public void emptyAndNullTextHaveNoWords() {
        assertTrue(WordCount.count("").isEmpty());
        assertTrue(WordCount.count(null).isEmpty());
    }

    @Test
    public void topOrdersByFrequencyThenAlphabetically() {
        Map<String, Integer> expected = new LinkedHashMap<>();
        expected.put("b", 3);
        expected.put("a", 2);
        expected.put("c", 2);
        assertEquals(expected, WordCount.top("a b c b a c b d", 3));
    }

    @Test(expected = IllegalArgumentException.class)
    public void topRefusesZero() {
        WordCount.top("a", 0);
    }
}
