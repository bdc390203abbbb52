// Scenario jvm: a JDK HttpServer (com.sun.net.httpserver), run as `java Server.java PORT` (single-file source).
// The JVM catches SIGTERM, runs its shutdown hooks (none here) and exits 143 while requests are still in flight:
// they are cut. Port: first argument, else $PORT.
//   /            answers 200 "ok" at once
//   /slow?ms=N   sleeps N ms (0..60000), then answers 200 "ok"
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.Executors;

public class Server {
  static long sleepMs(String query) {
    if (query == null) return 0;
    for (String part : query.split("&")) {
      if (part.startsWith("ms=")) {
        try {
          return Math.max(0, Math.min(60000, Long.parseLong(part.substring(3))));
        } catch (NumberFormatException e) {
          return 0;
        }
      }
    }
    return 0;
  }

  static void handle(HttpExchange exchange) throws java.io.IOException {
    try {
      if (exchange.getRequestURI().getPath().equals("/slow")) Thread.sleep(sleepMs(exchange.getRequestURI().getQuery()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    byte[] body = "ok".getBytes();
    exchange.sendResponseHeaders(200, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args.length > 0 ? args[0] : System.getenv("PORT"));
    HttpServer server = HttpServer.create(new InetSocketAddress(port), 128);
    server.createContext("/", Server::handle);
    server.setExecutor(Executors.newCachedThreadPool());
    server.start();
  }
}
