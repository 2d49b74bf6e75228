import Type, { type Static } from 'typebox';
import { Authentication, SecretKeyReference } from './authentication.ts';
import { GatehouseObject } from './gatehouse-object.ts';
import { cel, Duration, HeaderName, IpOrCidr, Opt, StringEnum } from './schema-helpers.ts';

export const LOG_PROFILES = ['native', 'cloudflare'] as const;

export const UpstreamTimeouts = Type.Object(
  {
    connect: Opt(Duration('Time allowed to open a connection to the upstream. Default 5s.')),
    responseHeaders: Opt(
      Duration(
        'Time allowed from sending the request until the upstream has sent its response headers. Default 30s.',
      ),
    ),
    idle: Opt(
      Duration(
        'Longest silence allowed between two chunks of the upstream response body (0s disables it, for long-lived streams). Default 60s.',
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'Timeouts towards the upstream; tighter than Node.js defaults.',
  },
);

export const UpstreamTls = Type.Object(
  {
    caSecretRef: Opt(
      Type.Object(SecretKeyReference.properties, {
        additionalProperties: false,
        description:
          'A Secret key holding the PEM certificates the upstream certificate must chain to, trusted instead of the public certificate authorities: an internal CA, or the application certificate itself when it is self-signed.',
      }),
    ),
    serverName: Opt(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
        description:
          'The DNS name the upstream certificate must carry, also sent as TLS SNI. Default: the host of url. Injected sidecars connect to the application on 127.0.0.1 and check this name, so url (or this) must be a name the certificate carries.',
      }),
    ),
    clientCertificateSecretRef: Opt(
      Type.Object(
        {
          name: Type.String({
            minLength: 1,
            maxLength: 253,
            pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
            description: 'Name of the Secret in the namespace of the application.',
          }),
        },
        {
          additionalProperties: false,
          description:
            "A Secret with tls.crt and tls.key (type kubernetes.io/tls, as cert-manager writes it): the certificate (its chain after it) and key the sidecar presents to an upstream that asks for a client certificate (mutual TLS). The key must be the first certificate's; a renewed Secret reaches the sidecars as any change does.",
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'How the sidecar checks an https upstream. The certificate is always verified; there is no way to turn that off.',
  },
);

export const Upstream = Type.Object(
  {
    url: Type.String({
      minLength: 8,
      maxLength: 2048,
      pattern: '^https?://',
      description:
        'Origin of the protected application as seen from the sidecar, e.g. http://127.0.0.1:8080. Scheme, host and port only.',
    }),
    timeouts: Opt(UpstreamTimeouts),
    tls: Opt(UpstreamTls),
    maxConnections: Opt(
      Type.Integer({
        minimum: 1,
        maximum: 4096,
        description: 'Most keep-alive connections the sidecar keeps open to the upstream. Default 128.',
      }),
    ),
    maxResponseHeaderBytes: Opt(
      Type.Integer({
        minimum: 1024,
        maximum: 1_048_576,
        description:
          'Largest response head (status line and headers) the sidecar reads from the upstream; a larger one is answered 502 upstream_headers_too_large. Default 16384 (16 KiB), as HAProxy; raise it for an application that sets many or large cookies.',
      }),
    ),
    caseInsensitivePaths: Opt(
      Type.Boolean({
        description:
          'The application finds its pages without regard to the case of the path (IIS and ASP.NET, some Spring and Windows file servers: /ADMIN is /admin). The paths selectors of its policies then compare ASCII letters without regard to case, so a deny on /admin/** covers /ADMIN/users too; the path forwarded is unchanged. A path Windows reads as another is refused (400 ambiguous_path): a segment ending in a dot or a space (/admin./users), a colon (an NTFS stream), a tilde before a digit (a short name). Default false: paths compare as sent.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Where requests are forwarded once they are allowed.',
    'x-kubernetes-validations': [
      cel("!has(self.tls) || self.url.startsWith('https://')", 'tls is for an https url', '.tls'),
    ],
  },
);

export const RequestIdSettings = Type.Object(
  {
    header: Opt(
      HeaderName(
        'Header that carries the request id to the upstream and back to the client. Default X-Request-Id.',
      ),
    ),
    trustIncoming: Opt(
      Type.Boolean({
        description:
          'Keep a well-formed request id sent by a trusted proxy (see trustedProxies) instead of generating one. Default true.',
      }),
    ),
  },
  { additionalProperties: false, description: 'How each request is given its id.' },
);

export const LoggingSettings = Type.Object(
  {
    profile: Opt(
      StringEnum(LOG_PROFILES, {
        description:
          'Field names of request lines: native (default) or cloudflare (Cloudflare HTTP request log names).',
      }),
    ),
    requestHeaders: Opt(
      Type.Array(HeaderName('A request header to copy into the log line.'), {
        maxItems: 32,
        description:
          'Request headers copied into the log line (RequestHeaders in the cloudflare profile). Credentials such as Cookie and Authorization are refused.',
      }),
    ),
    redactQueryParameters: Opt(
      Type.Array(Type.String({ minLength: 1, maxLength: 128, description: 'A query parameter name.' }), {
        maxItems: 64,
        description:
          'Query parameters whose values are replaced by [REDACTED] in logged URIs, in addition to the built-in list (access_token, code, token, password, ...).',
      }),
    ),
  },
  { additionalProperties: false, description: 'What the request log lines contain.' },
);

export const PolicyReference = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
      description: 'Name of an AccessPolicy in the namespace of the application.',
    }),
  },
  { additionalProperties: false, description: 'A reference to an AccessPolicy.' },
);

export const AccessApplicationSpec = Type.Object(
  {
    hosts: Type.Array(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$',
        description:
          'A host name users reach the application at, optionally with a port; *.example.com matches one label.',
      }),
      {
        minItems: 1,
        maxItems: 64,
        description:
          'Host names of the application. Requests for any other Host get 421 Misdirected Request.',
      },
    ),
    upstream: Upstream,
    trustedProxies: Opt(
      Type.Array(IpOrCidr(), {
        maxItems: 256,
        description:
          'Peers (load balancers, ingress controllers) whose X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and request id are believed. Default: none.',
      }),
    ),
    proxyProtocol: Opt(
      Type.Object(
        {
          from: Type.Array(IpOrCidr(), {
            minItems: 1,
            maxItems: 256,
            description:
              'Load balancers that begin each connection with a PROXY protocol header (version 1 or 2), such as an AWS Network Load Balancer with proxy protocol v2 on its target group: the header names the client, which then stands for the connection\u2019s peer everywhere (ipRanges, trustedProxies, fair shares, the log). A connection from these addresses without a header is refused (400 `proxy_header_missing`) unless `optional`; a header from any other address is never read.',
          }),
          optional: Opt(
            Type.Boolean({
              description:
                'Serve a connection from these addresses that sends no header as its own peer\u2019s, instead of refusing it: for ranges that hold other clients too (pods of the same subnets calling the application directly). Any client in the ranges may then name any client it likes in a header. Default false.',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'PROXY protocol from layer-4 load balancers that do not keep the client\u2019s address. Default: none.',
        },
      ),
    ),
    policies: Opt(
      Type.Array(PolicyReference, {
        maxItems: 1000,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        description:
          'The AccessPolicies of this application, in order of precedence (first listed wins among allow and deny; bypass and service-auth are looked at first). No policies means every request is denied.',
      }),
    ),
    authentication: Opt(Authentication),
    requestId: Opt(RequestIdSettings),
    logging: Opt(LoggingSettings),
  },
  { additionalProperties: false, description: 'Desired state of an application protected by Gatehouse.' },
);

export const AccessApplication = GatehouseObject(
  'AccessApplication',
  AccessApplicationSpec,
  'An application protected by Gatehouse: its hosts, its upstream and how its traffic is logged.',
);

export type AccessApplication = Static<typeof AccessApplication>;
export type AccessApplicationSpec = Static<typeof AccessApplicationSpec>;
export type LogProfile = (typeof LOG_PROFILES)[number];
