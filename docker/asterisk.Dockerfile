# Asterisk 22 from Debian sid: the same packages as the chroot rootfs (middleware/runtime/rootfs.py).
FROM debian:sid-slim
# The asterisk user first, with the ids the rootfs uses (2600): the middleware container shares the
# generated config and the recordings through that group.
RUN groupadd --system --gid 2600 asterisk \
 && useradd --system --uid 2600 --gid 2600 --home-dir /var/lib/asterisk --no-create-home --shell /usr/sbin/nologin asterisk \
 && apt-get -o Acquire::Check-Valid-Until=false update \
 && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false install -y --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en-gsm asterisk-core-sounds-es-gsm asterisk-moh-opsound-gsm \
      sip-tester procps \
 && ln -sfn es_MX_f_Allison /usr/share/asterisk/sounds/es \
 && rm -f /usr/lib/*/asterisk/modules/app_system.so /usr/lib/*/asterisk/modules/func_shell.so \
      /usr/lib/*/asterisk/modules/func_env.so /usr/lib/*/asterisk/modules/app_exec.so \
 && rm -rf /var/lib/apt/lists/*
COPY asterisk-config/ /opt/callcenter/asterisk-config/
COPY dialplans/ /opt/callcenter/dialplans/
COPY docker/asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint.sh
ENV TZ=UTC
EXPOSE 5060/udp 5038/tcp
ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint.sh"]
