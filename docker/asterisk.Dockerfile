# Asterisk 22 from Debian sid: the same packages as the chroot rootfs (middleware/runtime/rootfs.py).
FROM debian:sid-slim
RUN apt-get -o Acquire::Check-Valid-Until=false update \
 && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false install -y --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm sip-tester procps \
 && rm -rf /var/lib/apt/lists/*
COPY asterisk-config/ /opt/callcenter/asterisk-config/
COPY dialplans/ /opt/callcenter/dialplans/
COPY docker/asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint.sh
ENV TZ=UTC
EXPOSE 5060/udp 5038/tcp
ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint.sh"]
