// An application behind Gatehouse that trusts no identity header: it verifies the identity JWT
// the sidecar stamps on every request (X-Gatehouse-Jwt-Assertion) against the application's
// published keys, and answers who the caller is. One source file and one library
// (com.nimbusds:nimbus-jose-jwt:10.10), run with the JDK's source launcher (Java 17 or later):
//
//   GATEHOUSE_JWKS_URL=http://127.0.0.1:4180/.gatehouse/jwks.json \
//   GATEHOUSE_ISSUER=https://wiki.example.com \
//   GATEHOUSE_AUDIENCE=gatehouse:corp/wiki \
//   LISTEN=127.0.0.1:8080 java -cp nimbus-jose-jwt-10.10.jar VerifyJwt.java
//
// In the injected pod the keys come from the sidecar over loopback (its port, 4180 unless the
// pod's gatehouse.dev/listen-port says otherwise); elsewhere from the application's own URL,
// https://wiki.example.com/.gatehouse/jwks.json.
//
// The HTTP server is the JDK's, to keep the example whole; in an application, the processor built
// in main goes into its framework's filter (a servlet filter, a Spring Security filter chain).

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.jwk.source.RateLimitReachedException;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

public class VerifyJwt {
  /** The header the sidecar puts the JWT in (authentication.identityHeaders.assertion). */
  static final String ASSERTION_HEADER = "X-Gatehouse-Jwt-Assertion";
  static final Logger LOG = Logger.getLogger("verify-jwt");

  public static void main(String[] args) throws Exception {
    String jwksUrl = required("GATEHOUSE_JWKS_URL");
    String issuer = required("GATEHOUSE_ISSUER");
    String audience = required("GATEHOUSE_AUDIENCE");
    String listen = System.getenv().getOrDefault("LISTEN", "127.0.0.1:8080");

    // The keys are cached for an hour (in a cluster the operator publishes a new key a day before
    // it signs, so the hourly fetch learns it first) and fetched again when a token names a key
    // not seen yet (a standalone rotation, keys replaced by hand), at most once a minute: tokens
    // naming made-up keys cannot make it fetch more often, and a request never waits for a turn.
    JWKSource<SecurityContext> keys =
        JWKSourceBuilder.create(new URL(jwksUrl), new DefaultResourceRetriever(5_000, 5_000, 1 << 20))
            .cache(3_600_000, 5_000)
            .rateLimited(60_000)
            .retrying(false)
            .build();
    DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
    // Only the algorithms the sidecar signs with: never "none", never an HMAC keyed by a public key.
    processor.setJWSKeySelector(
        new JWSVerificationKeySelector<>(Set.of(JWSAlgorithm.ES256, JWSAlgorithm.RS256), keys));
    // This application's audience and issuer, and a subject, issue time and expiry required.
    processor.setJWTClaimsSetVerifier(
        new DefaultJWTClaimsVerifier<>(
            audience, new JWTClaimsSet.Builder().issuer(issuer).build(), Set.of("sub", "iat", "exp")));

    int colon = listen.lastIndexOf(':');
    HttpServer server =
        HttpServer.create(
            new InetSocketAddress(listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1))),
            0);
    server.setExecutor(Executors.newFixedThreadPool(16));
    server.createContext("/", exchange -> answer(exchange, processor));
    server.start();
    System.err.println("listening on " + listen);
  }

  static void answer(HttpExchange exchange, DefaultJWTProcessor<SecurityContext> processor) throws IOException {
    String token = exchange.getRequestHeaders().getFirst(ASSERTION_HEADER);
    JWTClaimsSet claims;
    try {
      claims = processor.process(token == null ? "" : token, null);
    } catch (RateLimitReachedException e) {
      // A key not seen yet, and the keys were fetched within the minute: refused, not held.
      refuse(exchange, 401, "unauthorized", e);
      return;
    } catch (KeySourceException e) {
      // The keys could not be fetched: nothing can be verified, so nothing is served.
      refuse(exchange, 503, "keys unavailable", e);
      return;
    } catch (ParseException | BadJOSEException | JOSEException e) {
      // Not through the sidecar, or not for this application: trust nothing of the request.
      refuse(exchange, 401, "unauthorized", e);
      return;
    }
    Map<String, Object> who = new LinkedHashMap<>();
    for (String name : new String[] {"sub", "email", "kind", "groups", "amr", "acr"}) {
      who.put(name, claims.getClaim(name));
    }
    send(exchange, 200, "application/json", com.nimbusds.jose.util.JSONObjectUtils.toJSONString(who));
  }

  static void refuse(HttpExchange exchange, int status, String text, Exception why) throws IOException {
    LOG.info("refused: " + why.getMessage());
    send(exchange, status, "text/plain", text + "\n");
  }

  static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, bytes.length);
    try (var out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  static String required(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      System.err.println(name + " is not set");
      System.exit(1);
    }
    return value;
  }
}
