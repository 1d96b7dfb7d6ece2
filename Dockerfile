# A small image running a Functions app folder with `azbind start` (issue 22).
#
#   docker build -t shop:1 --build-arg APP=examples/customhandler-go .
#   docker run -p 7071:7071 --env-file app.env shop:1
#
# APP is the app folder (host.json, */function.json) inside the build context. When it holds a
# Go custom handler (a main package), it is built as the file host.json's
# customHandler.description.defaultExecutablePath names ("handler" by default here). Both binaries
# are static (CGO_ENABLED=0), so the final stage is distroless/static: no shell, no libc, a
# non-root user. local.settings.json is not copied: settings come from the environment
# (--env-file, a Kubernetes Secret; `azbind kubernetes APPDIR` prints the manifests).
# Handlers in other languages need their runtime: start from a base image that has it instead.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG APP=examples/customhandler-go
ARG HANDLER=handler
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/azbind ./cmd/azbind
RUN mkdir -p /out/app && cp -r "$APP"/. /out/app/ && rm -f /out/app/local.settings.json \
 && if ls "$APP"/*.go >/dev/null 2>&1; then \
      go build -trimpath -ldflags="-s -w" -o "/out/app/$HANDLER" "./$APP" && rm -f /out/app/*.go /out/app/go.mod /out/app/go.sum; \
    fi

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/azbind /usr/local/bin/azbind
COPY --from=build /out/app /home/site/wwwroot
WORKDIR /home/site/wwwroot
EXPOSE 7071
ENTRYPOINT ["/usr/local/bin/azbind", "start", "/home/site/wwwroot", "--port", "7071"]
