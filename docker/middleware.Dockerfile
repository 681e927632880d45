# The middleware service. Installed in place (editable) so that db/ migrations and the Asterisk config
# templates are found next to the package, as in a checkout.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY middleware/ middleware/
COPY db/ db/
COPY asterisk-config/ asterisk-config/
COPY dialplans/ dialplans/
RUN pip install --no-cache-dir -e .
ENV LOG_FORMAT=json
EXPOSE 4573/tcp 8088/tcp
CMD ["sh", "-c", "callcenter db upgrade && exec callcenter serve"]
