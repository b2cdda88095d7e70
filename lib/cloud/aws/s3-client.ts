/**
 * The one place S3 clients are built. AWS_ENDPOINT_URL (the SDK's own variable) points
 * them at an emulator such as moto or LocalStack, which want path-style addressing and
 * do not all implement the SDK's default flexible checksums.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export function emulatorSettings(endpoint: string | undefined): Partial<S3ClientConfig> {
  if (!endpoint) return {};
  return {
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export function makeS3Client(options: { endpoint?: string; region?: string } = {}): S3Client {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...emulatorSettings(endpoint),
  });
}

/** The HTTP status of an SDK error, if it came from the service. */
export function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export function isNotFound(e: unknown): boolean {
  const name = (e as Error)?.name;
  return httpStatus(e) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}
