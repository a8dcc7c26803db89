// Optional e-mail through one SMTP relay (SMTP_URL), by nodemailer. Every message is rendered twice from Eta
// templates under templates/mail/ (<name>.html.eta, escaped, in the organisation's colours and logo; <name>.txt.eta,
// plain text) and sent with a hard timeout. Without SMTP_URL the mailer is off: callers check `enabled` and show
// the link in the console instead. Sending never throws into its caller's work: `send` answers sent or failed.
import { join } from 'node:path';
import { Eta } from 'eta';
import type { Transporter } from 'nodemailer';
import type { Config } from '../config/config.ts';
import { PROJECT_ROOT } from '../project-root.ts';

/** The organisation a message speaks for: its name, colours and (absolute) logo address. */
export interface MailBrand {
  name: string;
  primaryColor: string;
  accentColor: string;
  logoUrl: string | null;
}

export interface MailMessage {
  to: string;
  subject: string;
  /** templates/mail/<template>.html.eta and .txt.eta */
  template: 'admin-invite' | 'mfa-reset' | 'new-device';
  brand: MailBrand;
  data: Record<string, unknown>;
}

/** Where the mailer reports failures (a pino logger in the server). */
export interface MailLog {
  warn(o: object, m: string): void;
}

export type SendResult = { sent: true; messageId: string } | { sent: false; error: string };

const COLOR = /^#[0-9a-f]{6}$/i;
const MAIL_TEMPLATES = join(PROJECT_ROOT, 'templates', 'mail');

export class Mailer {
  // nodemailer is loaded on the first message only: the CLI and servers without SMTP never load it.
  private transport: Promise<Transporter> | null = null;
  private readonly html = new Eta({ views: MAIL_TEMPLATES, autoEscape: true, cache: true });
  // Plain text is not HTML: nothing to escape (a name with "&" must read "&", not "&amp;"), and its line breaks are kept as written.
  private readonly text = new Eta({ views: MAIL_TEMPLATES, autoEscape: false, autoTrim: false, cache: true });
  private logger: MailLog | null = null;

  /** `log`: made on first use (a pino logger in the server). */
  constructor(
    private readonly smtp: Config['smtp'],
    private readonly makeLog: () => MailLog,
  ) {}

  get enabled(): boolean {
    return this.smtp !== undefined;
  }

  get log(): MailLog {
    return (this.logger ??= this.makeLog());
  }

  private transporter(smtp: NonNullable<Config['smtp']>): Promise<Transporter> {
    return (this.transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        url: smtp.url,
        requireTLS: smtp.requireTls,
        tls: { rejectUnauthorized: !smtp.tlsInsecure },
        connectionTimeout: smtp.timeoutMs,
        greetingTimeout: smtp.timeoutMs,
        socketTimeout: smtp.timeoutMs,
      }),
    ));
  }

  /** Both parts of a message, as they will be sent (also what the tests read). */
  render(message: MailMessage): { html: string; text: string } {
    const brand = {
      ...message.brand,
      primaryColor: COLOR.test(message.brand.primaryColor) ? message.brand.primaryColor : '#1f4fd1',
      accentColor: COLOR.test(message.brand.accentColor) ? message.brand.accentColor : '#0f172a',
    };
    const it = { ...message.data, brand, subject: message.subject };
    return {
      html: this.html.render(`./${message.template}.html.eta`, it),
      text: this.text.render(`./${message.template}.txt.eta`, it),
    };
  }

  /** Sends one message; never throws. The whole attempt is bounded by SMTP_TIMEOUT_MS (nodemailer's own timeouts
   *  cover each phase; this covers their sum). */
  async send(message: MailMessage): Promise<SendResult> {
    if (!this.smtp) return { sent: false, error: 'e-mail is not configured (SMTP_URL)' };
    const smtp = this.smtp;
    let timer: NodeJS.Timeout | undefined;
    try {
      const { html, text } = this.render(message);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer from the SMTP server within ${smtp.timeoutMs} ms`)),
          smtp.timeoutMs,
        );
      });
      const delivery = this.transporter(smtp).then((transport) =>
        transport.sendMail({ from: smtp.from, to: message.to, subject: message.subject, html, text }),
      );
      const info = await Promise.race([delivery, timeout]);
      return { sent: true, messageId: String(info.messageId ?? '') };
    } catch (err) {
      return { sent: false, error: (err as Error).message.slice(0, 300) };
    } finally {
      clearTimeout(timer);
    }
  }

  close() {
    void this.transport?.then((transport) => transport.close());
  }
}
