package com.example.wordcount;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.Collectors;

/** GET /health and POST /top?n=N (a text body) on $PORT, with the JDK's own HTTP server. */
public final class Server {
    private Server() {
    }

    static String json(Map<String, Integer> counts) {
        return counts.entrySet().stream()
                .map(e -> "\"" + e.getKey().replace("\\", "\\\\").replace("\"", "\\\"") + "\":" + e.getValue())
                .collect(Collectors.joining(",", "{", "}"));
    }

    static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    public static HttpServer create(int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/health", exchange -> send(exchange, 200, "{\"status\":\"ok\"}"));
        server.createContext("/top", exchange -> {
            String query = exchange.getRequestURI().getQuery();
            int n = 10;
            if (query != null && query.startsWith("n=")) {
                try {
                    n = Integer.parseInt(query.substring(2));
                } catch (NumberFormatException e) {
                    send(exchange, 400, "{\"error\":\"n must be a number\"}");
                    return;
                }
            }
            String text = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            try {
                send(exchange, 200, json(WordCount.top(text, n)));
            } catch (IllegalArgumentException e) {
                send(exchange, 400, "{\"error\":\"" + e.getMessage() + "\"}");
            }
        });
        return server;
    }

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = create(port);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(5)));  // SIGTERM: drain
        server.start();
        System.out.println("java-service listening on :" + port);
    }
}
