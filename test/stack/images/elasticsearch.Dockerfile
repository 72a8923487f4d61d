# CI only: stands in for docker.elastic.co/elasticsearch/elasticsearch, which cannot be pulled in CI. The same
# layout (/usr/share/elasticsearch, user uid 1000 gid 0, the data folder, settings from environment variables,
# ELASTIC_PASSWORD as the bootstrap password) from the minimal integ-test distribution and a JDK.
# The build context (test/stack/images.ts prepares it) holds elasticsearch/ (the unpacked zip) and jdk/.
ARG DEBIAN_IMAGE=koa-sentinel-ci/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY jdk/ /usr/share/elasticsearch/jdk/
COPY elasticsearch/ /usr/share/elasticsearch/
COPY elasticsearch-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN useradd --uid 1000 --gid 0 --home-dir /usr/share/elasticsearch --no-create-home elasticsearch \
 && mkdir -p /usr/share/elasticsearch/data /usr/share/elasticsearch/logs \
 && chown -R 1000:0 /usr/share/elasticsearch \
 && chmod 0755 /usr/local/bin/docker-entrypoint.sh
ENV ES_JAVA_HOME=/usr/share/elasticsearch/jdk \
    PATH=/usr/share/elasticsearch/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /usr/share/elasticsearch
USER 1000:0
EXPOSE 9200
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
