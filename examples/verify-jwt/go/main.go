// Command verify-jwt is an application behind Gatehouse that trusts no identity header: it
// verifies the identity JWT the sidecar stamps on every request (X-Gatehouse-Jwt-Assertion)
// against the application's published keys, and answers who the caller is.
//
//	GATEHOUSE_JWKS_URL=http://127.0.0.1:4180/.gatehouse/jwks.json \
//	GATEHOUSE_ISSUER=https://wiki.example.com \
//	GATEHOUSE_AUDIENCE=gatehouse:corp/wiki \
//	LISTEN=127.0.0.1:8080 go run .
//
// In the injected pod the keys come from the sidecar over loopback (its port, 4180 unless the
// pod's gatehouse.dev/listen-port says otherwise); elsewhere from the application's own URL,
// https://wiki.example.com/.gatehouse/jwks.json.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// The header the sidecar puts the JWT in (authentication.identityHeaders.assertion).
const assertionHeader = "X-Gatehouse-Jwt-Assertion"

func main() {
	jwksURL := required("GATEHOUSE_JWKS_URL")
	issuer := required("GATEHOUSE_ISSUER")
	audience := required("GATEHOUSE_AUDIENCE")
	listen := os.Getenv("LISTEN")
	if listen == "" {
		listen = "127.0.0.1:8080"
	}

	// The keys are fetched at start and every hour (in a cluster the operator publishes a new key
	// a day before it signs, so the hourly fetch learns it first), and when a token names a key
	// not seen yet (a standalone rotation, keys replaced by hand) at most once a minute:
	// keyfunc's defaults allow one such fetch in 5 minutes and hold a request up to a minute for
	// its turn, so tokens naming made-up keys could pile up waiting requests. RateLimitWaitMax
	// bounds that fetch as well as the wait for its turn, so it is the fetch's own timeout: a
	// request waits for a turn only when one comes within it, and is refused at once otherwise.
	keys, err := keyfunc.NewDefaultOverrideCtx(context.Background(), []string{jwksURL}, keyfunc.Override{
		HTTPTimeout:       5 * time.Second,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
		RateLimitWaitMax:  5 * time.Second,
	})
	if err != nil {
		log.Fatalf("keys at %s: %v", jwksURL, err)
	}
	parser := jwt.NewParser(
		// Only the algorithms the sidecar signs with: never "none", never HS256 with a public key.
		jwt.WithValidMethods([]string{"ES256", "RS256"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(10*time.Second),
	)

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		claims := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(r.Header.Get(assertionHeader), claims, keys.Keyfunc); err != nil {
			// Not through the sidecar, or not for this application: trust nothing of the request.
			log.Printf("refused: %v", err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sub":    claims["sub"],
			"email":  claims["email"],
			"kind":   claims["kind"],
			"groups": claims["groups"],
			"amr":    claims["amr"],
			"acr":    claims["acr"],
		})
	})
	server := &http.Server{Addr: listen, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("listening on %s", listen)
	log.Fatal(server.ListenAndServe())
}

func required(name string) string {
	value := os.Getenv(name)
	if value == "" {
		log.Fatalf("%s is not set", name)
	}
	return value
}
