# duban's production image: `duban serve` (or api, worker, migrate) against an
# external Temporal and PostgreSQL. A plain go build is the production build:
# it leaves out `duban dev` and the embedded Temporal server and PostgreSQL
# launcher that only it needs (-tags devstack links them in).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/duban ./cmd/duban

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/duban /usr/local/bin/duban
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/duban"]
CMD ["serve", "--addr", "0.0.0.0:8080"]
