import { Controller, Get } from '@nestjs/common';
import { Public } from '../common/auth/auth.decorators';

@Controller('health')
export class HealthController {
  /** Liveness: the process answers. Also the bare-endpoint baseline of the benchmarks. */
  @Public()
  @Get('live')
  live() {
    return { status: 'ok' };
  }
}
