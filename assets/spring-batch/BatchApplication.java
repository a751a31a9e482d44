// A Spring Boot batch application whose process exit code says whether its job
// failed: what relman's launcher records in the run ledger (and what cron, Jenkins
// or any scheduler sees). Spring Boot 2.x / 3.x with spring-boot-starter-batch.
package com.example.batch;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class BatchApplication {

    public static void main(String[] args) {
        // run(): starts the context; Boot's JobLauncherApplicationRunner runs the job
        // (spring.batch.job.name=...) before run() returns.
        // exit(): closes the context and returns the code of its ExitCodeGenerator
        // beans: Boot's batch auto-configuration registers JobExecutionExitCodeGenerator,
        // whose code is the job's BatchStatus ordinal: 0 COMPLETED, 4 STOPPED, 5 FAILED.
        // System.exit(): makes that the JVM's exit status. Without it main() returns,
        // the JVM exits 0 and a FAILED job looks like a success to everyone.
        System.exit(SpringApplication.exit(SpringApplication.run(BatchApplication.class, args)));
    }
}

// Your own ExitCodeGenerator bean replaces Boot's (it is registered only when the
// context has none): then map the job's outcome yourself, e.g.
//
//   @Component
//   class BatchExitCodes implements ExitCodeGenerator, ApplicationListener<JobExecutionEvent> {
//       private volatile int code = 0;
//
//       @Override
//       public void onApplicationEvent(JobExecutionEvent event) {
//           if (event.getJobExecution().getStatus() != BatchStatus.COMPLETED) {
//               code = 1;
//           }
//       }
//
//       @Override
//       public int getExitCode() {
//           return code;
//       }
//   }
//
// (JobExecutionEvent is org.springframework.boot.autoconfigure.batch.JobExecutionEvent.)
