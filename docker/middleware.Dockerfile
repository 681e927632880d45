# The middleware service. Installed in place (editable) so that db/ migrations and the Asterisk config
# templates are found next to the package, as in a checkout.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY middleware/ middleware/
COPY db/ db/
COPY asterisk-config/ asterisk-config/
COPY dialplans/ dialplans/
RUN pip install --no-cache-dir -e . \
 && groupadd --gid 2600 asterisk && groupadd --gid 10001 callcenter \
 && useradd --uid 10001 --gid 10001 --groups asterisk --no-create-home callcenter \
 && mkdir -p /var/lib/callcenter && chown 10001:10001 /var/lib/callcenter
# Not root: the compose file runs it as 10001 with the asterisk group (2600) added.
USER 10001:10001
ENV LOG_FORMAT=json
EXPOSE 4573/tcp 8088/tcp
CMD ["sh", "-c", "callcenter db upgrade && exec callcenter serve"]
