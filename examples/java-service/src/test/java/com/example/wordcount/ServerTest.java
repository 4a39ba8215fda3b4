package com.example.wordcount;

import static org.junit.Assert.assertEquals;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

public class ServerTest {
    private HttpServer server;
    private String base;

    @Before
    public void start() throws IOException {
        server = Server.create(0);
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @After
    public void stop() {
        server.stop(0);
    }

    private String[] call(String method, String path, String body) throws IOException {
        HttpURLConnection conn = (HttpURLConnection) new URL(base + path).openConnection();
        conn.setRequestMethod(method);
        if (body != null) {
            conn.setDoOutput(true);
            try (OutputStream out = conn.getOutputStream()) {
                out.write(body.getBytes(StandardCharsets.UTF_8));
            }
        }
        int status = conn.getResponseCode();
        InputStream in = status < 400 ? conn.getInputStream() : conn.getErrorStream();
        return new String[] {String.valueOf(status), new String(in.readAllBytes(), StandardCharsets.UTF_8)};
    }

    @Test
    public void healthAnswersOk() throws IOException {
        String[] answer = call("GET", "/health", null);
        assertEquals("200", answer[0]);
        assertEquals("{\"status\":\"ok\"}", answer[1]);
    }

    @Test
    public void topCountsThePostedText() throws IOException {
        String[] answer = call("POST", "/top?n=2", "to be or not to be");
        assertEquals("200", answer[0]);
        assertEquals("{\"be\":2,\"to\":2}", answer[1]);
    }

    @Test
    public void aBadNIsA400() throws IOException {
        assertEquals("400", call("POST", "/top?n=zero", "x")[0]);
    }
}
